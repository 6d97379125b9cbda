package membercache

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

func TestTrimManagedFields(t *testing.T) {
	entry := func(manager string, op metav1.ManagedFieldsOperationType, sub string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: sub, FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{}}`)}}
	}
	ours := entry(v1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, "")
	created := entry(v1alpha1.FieldManager, metav1.ManagedFieldsOperationUpdate, "")
	status := entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "status")
	hpa := entry("hpa", metav1.ManagedFieldsOperationApply, "")
	for name, tc := range map[string]struct {
		in, want []metav1.ManagedFieldsEntry
	}{
		"settled: only fleethub's entries stay": {[]metav1.ManagedFieldsEntry{status, ours, hpa}, []metav1.ManagedFieldsEntry{ours}},
		// The move of created fields to the apply manager rewrites the
		// whole list, so it must see every entry.
		"created, not settled: all stay": {[]metav1.ManagedFieldsEntry{created, status}, []metav1.ManagedFieldsEntry{created, status}},
		"none of ours":                   {[]metav1.ManagedFieldsEntry{status}, []metav1.ManagedFieldsEntry{}},
	} {
		t.Run(name, func(t *testing.T) {
			d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{ManagedFields: tc.in}}
			trimManagedFields(d)
			got := d.GetManagedFields()
			if len(got) != len(tc.want) {
				t.Fatalf("got %d entries %+v, want %+v", len(got), got, tc.want)
			}
			for i := range got {
				if got[i].Manager != tc.want[i].Manager || got[i].Operation != tc.want[i].Operation {
					t.Errorf("entry %d = %s/%s, want %s/%s", i, got[i].Manager, got[i].Operation, tc.want[i].Manager, tc.want[i].Operation)
				}
			}
		})
	}
}
