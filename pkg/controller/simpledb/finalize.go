package simpledb

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/finalizer"
	"github.com/fleethub/fleethub/pkg/reconciler"
)

// finalize runs when a SimpleDB is deleted. The Deployment and Service always
// go. With deletionPolicy Delete the claim and the Secret go too. With
// Retain they stay: they never carried an owner reference (see
// ownership.go), so the garbage collector left them alone whatever the
// propagation policy and however long the hub was away; any reference a
// Delete-policy past left is removed here, and an Event says what was kept.
// Nothing is ever created for a SimpleDB being deleted. Then the CR is released.
func (r *Reconciler) finalize(ctx context.Context, cl cluster.Cluster, rec events.EventRecorder, db *v1alpha1.SimpleDB) error {
	if !controllerutil.ContainsFinalizer(db, v1alpha1.Finalizer) {
		return nil
	}
	ns := db.Namespace
	controlled := reconciler.ControlledBy(db)
	for _, child := range []struct {
		kind string
		obj  client.Object
	}{
		{"Deployment", &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ServiceName(db)}}},
		{"Service", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ServiceName(db)}}},
	} {
		if _, err := reconciler.DeleteChild(ctx, cl, child.kind, child.obj, controlled); err != nil {
			return err
		}
	}

	policy := DeletionPolicy(db)
	var kept []string
	for _, child := range []struct {
		kind string
		obj  client.Object
	}{
		{"PersistentVolumeClaim", &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ClaimName(db)}}},
		{"Secret", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: SecretName(db)}}},
	} {
		if policy == v1alpha1.SimpleDBDelete {
			if _, err := reconciler.DeleteChild(ctx, cl, child.kind, child.obj, ownsData(db)); err != nil {
				return err
			}
			continue
		}
		ok, err := keep(ctx, cl, db, child.kind, child.obj)
		if err != nil {
			return err
		}
		if ok {
			kept = append(kept, child.kind+" "+child.obj.GetName())
		}
	}

	if err := finalizer.Remove(ctx, cl.GetClient(), db); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // an earlier reconcile finished (and reported) it
		}
		return err
	}
	if len(kept) > 0 {
		rec.Eventf(db, nil, corev1.EventTypeNormal, v1alpha1.ReasonDataRetained, "Retain",
			"deletionPolicy is Retain: kept %s. A new SimpleDB named %s adopts them with the same data and password; delete them by hand to free the storage",
			strings.Join(kept, " and "), db.Name)
	}
	ctrl.LoggerFrom(ctx).Info("SimpleDB deleted", "deletionPolicy", policy, "kept", kept)
	return nil
}

// keep makes sure a retained child outlives the SimpleDB: no owner reference
// to it remains (guarded by resourceVersion). It reports whether the child
// exists and is this SimpleDB's, i.e. is kept.
func keep(ctx context.Context, cl cluster.Cluster, db *v1alpha1.SimpleDB, kind string, obj client.Object) (bool, error) {
	key := client.ObjectKeyFromObject(obj)
	live, found, err := reconciler.GetChild(ctx, cl, key, func() client.Object { return obj.DeepCopyObject().(client.Object) })
	if err != nil {
		return false, fmt.Errorf("reading %s %s: %w", kind, key.Name, err)
	}
	if !found || !ownsData(db)(live) {
		return false, nil
	}
	refs := live.GetOwnerReferences()
	others := make([]metav1.OwnerReference, 0, len(refs))
	for _, ref := range refs {
		if ref.UID != db.UID {
			others = append(others, ref)
		}
	}
	if len(others) == len(refs) {
		return true, nil
	}
	orig := live.DeepCopyObject().(client.Object)
	live.SetOwnerReferences(others)
	if err := cl.GetClient().Patch(ctx, live, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return false, fmt.Errorf("removing the owner reference from %s %s: %w", kind, key.Name, err)
	}
	return true, nil
}
