//go:build tools

// Package kwokbins pins kwok and kwokctl, which hack/kwok-bins.sh builds from
// source for the kwok e2e backend. It is a module of its own so that kwok's
// dependencies never reach fleethub's go.mod.
package kwokbins

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
	_ "sigs.k8s.io/kwok/cmd/kwokctl"
)
