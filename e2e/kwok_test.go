//go:build e2e

package e2e

import (
	"net"
	"testing"

	"github.com/fleethub/fleethub/e2e/backend/kwok"
	"github.com/fleethub/fleethub/e2e/framework"
)

// TestKwokListensOnLoopbackOnly: kwokctl binds every component to all
// interfaces unless told otherwise; the backend tells it otherwise. Every
// listening socket of every component of every cluster is on loopback.
func TestKwokListensOnLoopbackOnly(t *testing.T) {
	b, ok := fleet.Backend.(*kwok.Backend)
	if !ok {
		t.Skipf("only the kwok backend runs control planes as local processes (backend %s)", fleet.Backend.Name())
	}
	for _, c := range append([]*framework.Cluster{fleet.Hub}, fleet.Members...) {
		listeners, err := b.Listeners(c.BackendName)
		if err != nil {
			t.Fatal(err)
		}
		if len(listeners["kube-apiserver"]) == 0 {
			t.Errorf("%s: found no listening socket of kube-apiserver (found %v)", c.Name, listeners)
		}
		for component, addrs := range listeners {
			for _, a := range addrs {
				host, _, err := net.SplitHostPort(a)
				if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
					t.Errorf("%s: %s listens on %s, not on loopback", c.Name, component, a)
				}
			}
			t.Logf("%s: %s listens on %v", c.Name, component, addrs)
		}
	}
}
