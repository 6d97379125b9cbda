// Package v1alpha1 holds the fleethub API: the kinds users apply in member
// clusters (WebApp, SimpleDB, DomainManager) in group app.54b3r.io.
//
// +kubebuilder:object:generate=true
// +groupName=app.54b3r.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of every fleethub kind.
	GroupVersion = schema.GroupVersion{Group: "app.54b3r.io", Version: "v1alpha1"}

	// SchemeBuilder registers the fleethub kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the fleethub kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
