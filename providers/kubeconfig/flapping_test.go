package kubeconfig_test

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/pkg/membersecret"
)

// settledGoroutines is the goroutine count once transient ones have ended.
func settledGoroutines() (int, uint64) {
	var n int
	var ms runtime.MemStats
	for range 20 {
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	runtime.ReadMemStats(&ms)
	return n, ms.HeapAlloc
}

// A member cut off and restored 50 times: the hub takes it from the
// reconcilers and gives it back each time, and its goroutines (and memory)
// stay where they were. Re-engaging on every flap would leave one goroutine
// per watch source per flap behind (multicluster-runtime v0.24.1).
func TestFlappingMemberStaysFlat(t *testing.T) {
	setup(t)
	ctx := context.Background()
	const ns = "fleethub-flaps"
	fleettest.Must(t, fleet.Hub.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	cfg := fleettest.TestConfig()
	cfg.HubNamespace = ns
	cfg.MemberProbeInterval = 200 * time.Millisecond
	cfg.Members.FailureThreshold = 1
	m, err := fleet.StartManager(cfg)
	fleettest.Must(t, err)
	defer func() { _ = m.Stop() }()

	// m2 through a proxy that can be cut, registered on this hub only.
	proxy, err := fleettest.NewProxy(hostOf(t, fleet.Members["m2"].Config.Host))
	fleettest.Must(t, err)
	defer proxy.Cut()
	raw, err := fleet.Kubeconfig("m2")
	fleettest.Must(t, err)
	kc, err := clientcmd.Load(raw)
	fleettest.Must(t, err)
	for _, c := range kc.Clusters {
		c.Server = "https://" + proxy.Addr
	}
	out, err := clientcmd.Write(*kc)
	fleettest.Must(t, err)
	fleettest.Must(t, fleet.PutSecretIn(ctx, ns, "m2", map[string][]byte{membersecret.Key: out}))
	available := func(want bool) func() error {
		return func() error {
			if got := m.Provider.Members()["m2"]; got != want {
				st, _, _ := m.Provider.MemberState("m2")
				return fmt.Errorf("m2 available=%v (state %s), want %v", got, st, want)
			}
			return nil
		}
	}
	eventually(t, available(true))
	engaged, err := m.Provider.Get(ctx, "m2")
	fleettest.Must(t, err)
	// One flap first, so lazily started pieces (transport caches, backoff
	// managers) are part of the baseline.
	proxy.Cut()
	eventually(t, available(false))
	fleettest.Must(t, proxy.Restore())
	eventually(t, available(true))
	base, heap := settledGoroutines()

	const flaps = 50
	for i := range flaps {
		proxy.Cut()
		eventually(t, available(false))
		if _, err := m.Provider.Get(ctx, "m2"); err == nil {
			t.Fatalf("flap %d: an unavailable member is handed to reconcilers", i)
		}
		fleettest.Must(t, proxy.Restore())
		eventually(t, available(true))
	}
	if cl, err := m.Provider.Get(ctx, "m2"); err != nil || cl != engaged {
		t.Errorf("after %d flaps the member was re-engaged from scratch (%v)", flaps, err)
	}
	var now int
	var heapNow uint64
	err = fleettest.Eventually(ctx, wait, func() error {
		now, heapNow = settledGoroutines()
		if now > base+25 {
			return fmt.Errorf("goroutines: %d before %d flaps, %d after", base, flaps, now)
		}
		return nil
	})
	t.Logf("goroutines %d -> %d, heap %.1f MiB -> %.1f MiB over %d flaps", base, now, float64(heap)/(1<<20), float64(heapNow)/(1<<20), flaps)
	fleettest.Must(t, err)
}

func hostOf(t *testing.T, server string) string {
	t.Helper()
	u, err := url.Parse(server)
	fleettest.Must(t, err)
	return u.Host
}
