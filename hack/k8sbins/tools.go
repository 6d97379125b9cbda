//go:build tools

// Package k8sbins pins the Kubernetes control-plane commands that hack/test-bins.sh
// builds from source for envtest and the kwok e2e backend.
package k8sbins

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
