// Package v1alpha1 holds the fleethub API: the kinds users apply in member
// clusters (WebApp, SimpleDB, DomainManager) in group app.54b3r.io.
//
// +kubebuilder:object:generate=true
// +groupName=app.54b3r.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the API group and version of every fleethub kind.
	GroupVersion = schema.GroupVersion{Group: "app.54b3r.io", Version: "v1alpha1"}

	// SchemeBuilder registers the fleethub kinds with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the fleethub kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme

	// knownTypes are the kinds the types files register (register).
	knownTypes []runtime.Object
)

// register adds kinds of this group version; each types file calls it from init.
func register(objs ...runtime.Object) { knownTypes = append(knownTypes, objs...) }

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, knownTypes...)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
