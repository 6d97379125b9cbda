package membercache

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

func ref(apiVersion, kind string, controller bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: "x", UID: "u", Controller: &controller}
}

func labelled(obj client.Object, refs ...metav1.OwnerReference) client.Object {
	obj.SetName("child")
	obj.SetNamespace("ns")
	obj.SetUID(types.UID("uid-1"))
	obj.SetResourceVersion("7")
	obj.SetLabels(map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue})
	obj.SetOwnerReferences(refs)
	return obj
}

func simpledbLabels(obj client.Object) client.Object {
	l := obj.GetLabels()
	l[v1alpha1.LabelName], l[v1alpha1.LabelInstance] = "simpledb", "db1"
	return obj
}

func TestKeepInCache(t *testing.T) {
	ours := v1alpha1.GroupVersion.String()
	tests := []struct {
		name string
		obj  client.Object
		keep bool
	}{
		{"controlled by a WebApp", labelled(&appsv1.Deployment{}, ref(ours, "WebApp", true)), true},
		{"controlled by a SimpleDB", labelled(&corev1.Secret{}, ref(ours, "SimpleDB", true)), true},
		{"our group, another version", labelled(&corev1.Service{}, ref("app.54b3r.io/v1", "WebApp", true)), true},
		{"label only (anyone can set it)", labelled(&corev1.Secret{}), false},
		{"owned by us but not as controller", labelled(&appsv1.Deployment{}, ref(ours, "WebApp", false)), false},
		{"controlled by someone else", labelled(&appsv1.Deployment{}, ref("apps/v1", "ReplicaSet", true)), false},
		{"group that merely ends like ours", labelled(&corev1.ConfigMap{}, ref("evil.app.54b3r.io/v1alpha1", "WebApp", true)), false},
		{"claim released by a SimpleDB under Retain", simpledbLabels(labelled(&corev1.PersistentVolumeClaim{})), true},
		{"retained-looking claim still owned by another", simpledbLabels(labelled(&corev1.PersistentVolumeClaim{}, ref("v1", "Pod", false))), false},
		{"retained-looking Secret (read live instead)", simpledbLabels(labelled(&corev1.Secret{})), false},
		{"claim without SimpleDB's labels", labelled(&corev1.PersistentVolumeClaim{}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := keepInCache(tc.obj); got != tc.keep {
				t.Fatalf("keepInCache = %v, want %v", got, tc.keep)
			}
		})
	}
}

func TestStubTransformDropsContent(t *testing.T) {
	hostile := labelled(&corev1.Secret{Data: map[string][]byte{"blob": []byte(strings.Repeat("x", 1<<20))}}).(*corev1.Secret)
	hostile.Annotations = map[string]string{"big": strings.Repeat("y", 100<<10)}
	out, err := Transform(hostile)
	if err != nil {
		t.Fatal(err)
	}
	stub := out.(*corev1.Secret)
	if len(stub.Data) != 0 || len(stub.Labels) != 0 || len(stub.Annotations) != 1 || !isStub(stub) {
		t.Fatalf("stub keeps content: %d data keys, labels %v, annotations %d", len(stub.Data), stub.Labels, len(stub.Annotations))
	}
	if stub.Name != "child" || stub.Namespace != "ns" || stub.UID != "uid-1" || stub.ResourceVersion != "7" {
		t.Fatalf("stub lost its identity: %+v", stub.ObjectMeta)
	}
	owned := labelled(&corev1.Secret{Data: map[string][]byte{"password": []byte("p")}}, ref(v1alpha1.GroupVersion.String(), "SimpleDB", true))
	if out, _ := Transform(owned); out != owned {
		t.Fatal("a controlled child was changed")
	}
}

// fakeCache serves fixed objects; only Get and List are used.
type fakeCache struct {
	cache.Cache
	objs []client.Object
}

func (f fakeCache) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	for _, o := range f.objs {
		if o.GetName() == key.Name {
			o.(*corev1.Secret).DeepCopyInto(obj.(*corev1.Secret))
			return nil
		}
	}
	return apierrors.NewNotFound(corev1.Resource("secrets"), key.Name)
}

func (f fakeCache) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	l := list.(*corev1.SecretList)
	for _, o := range f.objs {
		l.Items = append(l.Items, *o.(*corev1.Secret).DeepCopy())
	}
	return nil
}

func TestStubsReadAsAbsent(t *testing.T) {
	ours := labelled(&corev1.Secret{}, ref(v1alpha1.GroupVersion.String(), "SimpleDB", true))
	ours.SetName("ours")
	stub, _ := Transform(labelled(&corev1.Secret{}))
	c := stubHidingCache{Cache: fakeCache{objs: []client.Object{ours, stub.(client.Object)}}}
	ctx := context.Background()

	err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "child"}, &corev1.Secret{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("Get of a stub = %v, want NotFound", err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "ours"}, &corev1.Secret{}); err != nil {
		t.Fatalf("Get of a controlled child: %v", err)
	}
	var l corev1.SecretList
	if err := c.List(ctx, &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 1 || l.Items[0].Name != "ours" {
		t.Fatalf("List = %v, want only the controlled child", l.Items)
	}
}
