package simpledb

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

// Who owns a SimpleDB's data (the credentials Secret and the data claim).
//
// With deletionPolicy Delete they carry the SimpleDB's controller reference,
// like every other child. With Retain they carry no owner reference at all:
// the member's garbage collector deletes every dependent of a deleted owner
// (foreground deletion deletes dependents first; blockOwnerDeletion only
// makes the owner wait), so any reference would lose the data whenever the
// hub is not there to remove it in time. Their owner is recorded instead in
// the annotations app.54b3r.io/owner-uid and owner-kind next to fleethub's
// labels. Children without a controller reference are not in the hub's
// member caches, so these are always read live.

// isDataOf reports whether obj carries the labels of this SimpleDB's data.
func isDataOf(db *v1alpha1.SimpleDB, obj client.Object) bool {
	l := obj.GetLabels()
	return l[v1alpha1.LabelManagedBy] == v1alpha1.ManagedByValue &&
		l[v1alpha1.LabelName] == componentName && l[v1alpha1.LabelInstance] == db.Name
}

// ownsData reports whether the Secret or claim belongs to this SimpleDB: its
// controller reference, or (retained data) no controller and this
// SimpleDB's UID in the ownership annotation.
func ownsData(db *v1alpha1.SimpleDB) func(client.Object) bool {
	return func(obj client.Object) bool {
		if metav1.IsControlledBy(obj, db) {
			return true
		}
		return metav1.GetControllerOf(obj) == nil && isDataOf(db, obj) &&
			obj.GetAnnotations()[v1alpha1.AnnotationOwnerUID] == string(db.UID)
	}
}

// retainedFor reports whether obj is data an earlier SimpleDB of this name
// kept (deletionPolicy Retain), which this one adopts: fleethub's labels for
// this name, no controller, and another (or no, from older fleethub
// versions) owner UID. Names are unique in a namespace, so that earlier
// SimpleDB is gone.
func retainedFor(db *v1alpha1.SimpleDB, obj client.Object) bool {
	return metav1.GetControllerOf(obj) == nil && isDataOf(db, obj) &&
		obj.GetAnnotations()[v1alpha1.AnnotationOwnerUID] != string(db.UID) &&
		obj.GetDeletionTimestamp().IsZero()
}
