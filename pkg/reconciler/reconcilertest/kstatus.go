// Package reconcilertest holds test helpers for the reconcile core shared by
// every kind's tests.
package reconcilertest

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// KStatus is kstatus's verdict on obj (Current, InProgress, Failed, ...),
// computed by kstatus itself, the library Flux, Argo CD-style health checks
// and kubectl-based tooling use to decide whether a resource is done.
func KStatus(t testing.TB, scheme *runtime.Scheme, obj client.Object) *status.Result {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		t.Fatalf("GVK of %T: %v", obj, err)
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatalf("converting %T: %v", obj, err)
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetGroupVersionKind(gvk)
	res, err := status.Compute(u)
	if err != nil {
		t.Fatalf("kstatus on %s/%s: %v", obj.GetNamespace(), obj.GetName(), err)
	}
	return res
}
