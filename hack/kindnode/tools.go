//go:build tools

// Package kindnode pins the programs hack/kind-node-image.sh builds from
// source for the offline kind node image, besides Kubernetes itself
// (hack/k8sbins): crictl, which kind and people use on nodes, and CoreDNS,
// built from ./coredns with only the plugins cluster DNS needs. It is a
// module of its own so their dependencies stay out of fleethub's.
package kindnode

import (
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
)
