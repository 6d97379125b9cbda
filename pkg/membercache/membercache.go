// Package membercache shapes the hub's cache of one member cluster so that it
// holds in full only what a fleethub CR controls (see below). The composition
// root (cmd/manager/app) chooses which kinds are cached and plugs Transform
// and New into each member cluster.
package membercache

import (
	"context"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

// Anyone in a member can put fleethub's managed-by label on an object, so the
// label alone would let a tenant fill the hub's memory (a thousand 1 MiB
// Secrets). The child caches therefore hold in full only what a fleethub CR
// controls; every other labelled object is reduced by a cache transform to a
// stub (name, namespace, UID, resourceVersion) that reads through the member
// client as NotFound, as if the cache had no copy. Reconcilers already treat
// "not in the cache" as "verify with the apiserver before writing", so a
// hostile object is seen live, never through the cache.
//
// One exception keeps SimpleDB's Retain correct: a PersistentVolumeClaim
// released under deletionPolicy Retain has no owner reference left, and the
// next SimpleDB of that name adopts it from the cache (its size decides
// whether the claim may grow). Such claims — no owner reference at all and
// SimpleDB's name and instance labels — stay cached in full; claims are small
// and a member's ResourceQuota bounds their count (docs/operations.md). A
// retained Secret needs no exception: SimpleDB reads an existing Secret it
// cannot see in the cache live from the apiserver.

// cacheStubAnnotation marks a stub in the hub's cache. It exists only there
// and is never written to a cluster.
const cacheStubAnnotation = "app.54b3r.io/cache-stub"

// controlledByFleethub reports whether obj's controller is a fleethub CR.
func controlledByFleethub(obj metav1.Object) bool {
	ref := metav1.GetControllerOfNoCopy(obj)
	if ref == nil {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	return err == nil && gv.Group == v1alpha1.GroupVersion.Group
}

// retainedClaim reports whether obj is a claim a SimpleDB released under
// deletionPolicy Retain (see above).
func retainedClaim(obj client.Object) bool {
	if _, ok := obj.(*corev1.PersistentVolumeClaim); !ok {
		return false
	}
	l := obj.GetLabels()
	return len(obj.GetOwnerReferences()) == 0 && l[v1alpha1.LabelName] == "simpledb" && l[v1alpha1.LabelInstance] != ""
}

// keepInCache decides whether a labelled child is cached in full.
func keepInCache(obj client.Object) bool {
	return controlledByFleethub(obj) || retainedClaim(obj)
}

// Transform is the child caches' transform: objects fleethub does not
// control become stubs; the others keep only fleethub's managedFields.
func Transform(in any) (any, error) {
	obj, ok := in.(client.Object)
	if !ok {
		return in, nil
	}
	if keepInCache(obj) {
		trimManagedFields(obj)
		return in, nil
	}
	stub, ok := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(client.Object)
	if !ok {
		return in, nil
	}
	stub.GetObjectKind().SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
	stub.SetName(obj.GetName())
	stub.SetNamespace(obj.GetNamespace())
	stub.SetUID(obj.GetUID())
	stub.SetResourceVersion(obj.GetResourceVersion())
	stub.SetDeletionTimestamp(obj.GetDeletionTimestamp())
	stub.SetAnnotations(map[string]string{cacheStubAnnotation: "true"})
	return stub, nil
}

func isStub(obj metav1.Object) bool {
	_, ok := obj.GetAnnotations()[cacheStubAnnotation]
	return ok
}

// stubHidingCache reads stubs as absent: Get answers NotFound, List leaves
// them out. Informers (and so watches) still see them, which costs nothing:
// a stub has no owner reference to enqueue.
type stubHidingCache struct {
	cache.Cache
}

func (c stubHidingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := c.Cache.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	if isStub(obj) {
		gvk := obj.GetObjectKind().GroupVersionKind()
		return apierrors.NewNotFound(schema.GroupResource{Group: gvk.Group, Resource: strings.ToLower(reflect.TypeOf(obj).Elem().Name()) + "s"}, key.Name)
	}
	return nil
}

func (c stubHidingCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := c.Cache.List(ctx, list, opts...); err != nil {
		return err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	kept := items[:0]
	for _, it := range items {
		if o, ok := it.(metav1.Object); ok && isStub(o) {
			continue
		}
		kept = append(kept, it)
	}
	if len(kept) == len(items) {
		return nil
	}
	return meta.SetList(list, kept)
}

// New is a member cluster's NewCache: the usual cache, reading stubs as
// absent.
func New(cfg *rest.Config, opts cache.Options) (cache.Cache, error) {
	c, err := cache.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	return stubHidingCache{Cache: c}, nil
}

// Unwrap returns the cache under the stub hiding, to look at what the hub
// actually holds (tests, diagnostics).
func Unwrap(c cache.Cache) cache.Cache {
	if s, ok := c.(stubHidingCache); ok {
		return s.Cache
	}
	return c
}
