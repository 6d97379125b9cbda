package membercache

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

// trimManagedFields keeps only fleethub's own managedFields entries on a
// cached child: the apply comparison reads only fleethub's field set, and
// the other managers' entries (the controller-manager's status, kubectl's
// edits) are most of a Deployment's cached bytes. A child fleethub created
// and has not settled yet keeps every entry: the move of its created fields
// to the apply manager (csaupgrade) replaces the whole list, and must see
// all of it.
func trimManagedFields(obj client.Object) {
	entries := obj.GetManagedFields()
	kept := entries[:0:0]
	for _, mf := range entries {
		if mf.Manager != v1alpha1.FieldManager {
			continue
		}
		if mf.Operation == metav1.ManagedFieldsOperationUpdate && mf.Subresource == "" {
			return // not settled yet
		}
		kept = append(kept, mf)
	}
	if len(kept) < len(entries) {
		obj.SetManagedFields(kept)
	}
}
