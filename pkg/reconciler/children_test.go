package reconciler

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

func TestHolder(t *testing.T) {
	yes := true
	tests := []struct {
		name string
		meta metav1.ObjectMeta
		want string
	}{
		{"controller", metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{Kind: "WebApp", Name: "shop", Controller: &yes}}}, "WebApp shop"},
		{"retained fleethub child", metav1.ObjectMeta{Annotations: map[string]string{v1alpha1.AnnotationOwnerUID: "u1", v1alpha1.AnnotationOwnerKind: "SimpleDB"}}, "another fleethub SimpleDB (uid u1)"},
		{"labelled, uncontrolled", metav1.ObjectMeta{Labels: map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue}}, "no fleethub resource controls"},
		{"foreign with manager", metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "helm"}}}, "written by helm"},
		{"foreign", metav1.ObjectMeta{}, "an object fleethub does not manage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Holder(&corev1.Service{ObjectMeta: tc.meta})
			if !strings.Contains(got, tc.want) {
				t.Errorf("Holder = %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

func TestCreatedByUs(t *testing.T) {
	entry := func(m string, op metav1.ManagedFieldsOperationType) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: m, Operation: op}
	}
	tests := []struct {
		name string
		mf   []metav1.ManagedFieldsEntry
		want bool
	}{
		{"created, not applied yet", []metav1.ManagedFieldsEntry{entry(v1alpha1.FieldManager, metav1.ManagedFieldsOperationUpdate)}, true},
		{"applied", []metav1.ManagedFieldsEntry{entry(v1alpha1.FieldManager, metav1.ManagedFieldsOperationUpdate), entry(v1alpha1.FieldManager, metav1.ManagedFieldsOperationApply)}, false},
		{"someone else's", []metav1.ManagedFieldsEntry{entry("kubectl", metav1.ManagedFieldsOperationUpdate)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := createdByUs(&corev1.Service{ObjectMeta: metav1.ObjectMeta{ManagedFields: tc.mf}}); got != tc.want {
				t.Errorf("createdByUs = %v, want %v", got, tc.want)
			}
		})
	}
}
