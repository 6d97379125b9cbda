package simpledb

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

// Under Retain the data carries no owner reference at all (the garbage
// collector would delete it with the SimpleDB under foreground or background
// deletion); under Delete it carries the controller reference.
func TestDataOwnershipFollowsDeletionPolicy(t *testing.T) {
	for _, policy := range []v1alpha1.SimpleDBDeletionPolicy{v1alpha1.SimpleDBRetain, v1alpha1.SimpleDBDelete} {
		t.Run(string(policy), func(t *testing.T) {
			db := sample(func(d *v1alpha1.SimpleDB) { d.Spec.DeletionPolicy = policy; d.Spec.PostgresVersion = "16" })
			claim, _ := decode[corev1.PersistentVolumeClaim](t, PersistentVolumeClaim(db, resource.MustParse("1Gi")))
			applied, _ := decode[corev1.Secret](t, CredentialsSecret(db, "pw"))
			created := NewCredentialsSecret(db, "pw")
			wantRefs := 0
			if policy == v1alpha1.SimpleDBDelete {
				wantRefs = 1
			}
			for _, obj := range []metav1.Object{&claim, &applied, created} {
				if n := len(obj.GetOwnerReferences()); n != wantRefs {
					t.Errorf("%s: %d owner references, want %d", obj.GetName(), n, wantRefs)
				}
				if wantRefs == 1 && !metav1.IsControlledBy(obj, db) {
					t.Errorf("%s: not controlled by the SimpleDB", obj.GetName())
				}
				if a := obj.GetAnnotations(); a[v1alpha1.AnnotationOwnerUID] != string(db.UID) || a[v1alpha1.AnnotationOwnerKind] != "SimpleDB" {
					t.Errorf("%s: ownership annotations %v", obj.GetName(), a)
				}
			}
			if got := claim.Annotations[v1alpha1.AnnotationPostgresMajor]; got != "16" {
				t.Errorf("claim records major %q, want 16", got)
			}
		})
	}
}

func TestOwnsDataAndRetainedFor(t *testing.T) {
	db := sample()
	yes := true
	labels := map[string]string{v1alpha1.LabelManagedBy: "fleethub", v1alpha1.LabelName: "simpledb", v1alpha1.LabelInstance: db.Name}
	webappLabels := map[string]string{v1alpha1.LabelManagedBy: "fleethub", v1alpha1.LabelName: "webapp", v1alpha1.LabelInstance: db.Name}
	ownerAnn := func(uid string) map[string]string { return map[string]string{v1alpha1.AnnotationOwnerUID: uid} }
	ref := func(uid types.UID, kind string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: "app.54b3r.io/v1alpha1", Kind: kind, Name: db.Name, UID: uid, Controller: &yes}}
	}
	tests := []struct {
		name           string
		meta           metav1.ObjectMeta
		owns, retained bool
	}{
		{"controller reference", metav1.ObjectMeta{Labels: labels, OwnerReferences: ref(db.UID, "SimpleDB")}, true, false},
		{"retained by this SimpleDB", metav1.ObjectMeta{Labels: labels, Annotations: ownerAnn(string(db.UID))}, true, false},
		{"retained by an earlier SimpleDB of this name", metav1.ObjectMeta{Labels: labels, Annotations: ownerAnn("old-uid")}, false, true},
		{"retained by an older fleethub (labels only)", metav1.ObjectMeta{Labels: labels}, false, true},
		{"a WebApp's claim of the same name", metav1.ObjectMeta{Labels: webappLabels, OwnerReferences: ref("app-uid", "WebApp")}, false, false},
		{"labelled like ours but controlled by someone else", metav1.ObjectMeta{Labels: labels, Annotations: ownerAnn(string(db.UID)), OwnerReferences: ref("other", "SimpleDB")}, false, false},
		{"unlabelled", metav1.ObjectMeta{}, false, false},
		{"unlabelled with our UID annotation", metav1.ObjectMeta{Annotations: ownerAnn(string(db.UID))}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := &corev1.PersistentVolumeClaim{ObjectMeta: tc.meta}
			if got := ownsData(db)(obj); got != tc.owns {
				t.Errorf("ownsData = %v, want %v", got, tc.owns)
			}
			if got := retainedFor(db, obj); got != tc.retained {
				t.Errorf("retainedFor = %v, want %v", got, tc.retained)
			}
		})
	}
}
