//go:build tools

// Package kindnode pins the programs hack/kind-node-image.sh builds from
// source for the offline kind node image, besides Kubernetes itself
// (hack/k8sbins): CoreDNS, and crictl, which kind and people use on nodes.
// It is a module of its own so their dependencies stay out of fleethub's.
package kindnode

import (
	_ "github.com/coredns/coredns"
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
)
