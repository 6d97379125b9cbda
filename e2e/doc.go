// Package e2e is fleethub's multi-cluster end-to-end suite: a hub and two
// member clusters from a backend (kwok by default, or kind), the hub manager
// running as a process next to them, and scenarios that act only through the
// clusters' APIs, as users and platform teams do.
//
// The scenarios are behind the build tag "e2e" so `go test ./...` does not
// run them. Run them with `make e2e` (BACKEND=kwok|kind|all), or directly:
//
//	go test -tags e2e -v -count=1 -timeout 30m ./e2e/
//
// Environment:
//
//	FLEETHUB_E2E_BACKEND   kwok (default) or kind
//	FLEETHUB_E2E_KEEP      non-empty: leave the fleet running after the run
//	                       (remove it with `go run ./e2e/cmd/demo down --state-dir .cache/e2e/<backend>`)
//	KIND_NODE_IMAGE        node image for kind (default: hack/kind-node-image.sh's)
package e2e
