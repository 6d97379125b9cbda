// Package childmeta is the metadata fleethub puts on every child object it creates
// for a CR: the recommended labels and the controller owner reference.
package childmeta

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

// SelectorLabels select a CR's pods. They are immutable on a Deployment, so
// they name only the component and the instance, never version or config.
func SelectorLabels(component, instance string) map[string]string {
	return map[string]string{
		v1alpha1.LabelName:     component,
		v1alpha1.LabelInstance: instance,
	}
}

// Labels go on every child; managed-by is what the hub's member caches select on.
func Labels(component, instance string) map[string]string {
	l := SelectorLabels(component, instance)
	l[v1alpha1.LabelManagedBy] = v1alpha1.ManagedByValue
	return l
}

// ControllerRef is the owner reference from a child to its CR of kind.
func ControllerRef(owner metav1.Object, kind string) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(v1alpha1.GroupVersion.String()).
		WithKind(kind).
		WithName(owner.GetName()).
		WithUID(owner.GetUID()).
		WithController(true).
		WithBlockOwnerDeletion(true)
}
