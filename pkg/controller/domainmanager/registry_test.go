package domainmanager

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/pkg/dns"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func TestIndexWaiters(t *testing.T) {
	x := newIndex()
	www := dns.ClaimKey{Cluster: "alpha", Namespace: "ns", Name: "www"}
	acme := dns.ClaimKey{Cluster: "beta", Namespace: "ns", Name: "acme"}
	x.put(www, "WWW.example.com")
	x.put(acme, "_acme-challenge.www.example.com")
	if w := x.waiters("www.example.com"); len(w) != 2 {
		t.Fatalf("waiters of the base name = %v (the underscore name waits on it too)", w)
	}
	if w := x.waitersOfObject(claimObjectName("www.example.com", "A")); len(w) != 2 {
		t.Fatalf("waiters of the claim object = %v", w)
	}
	x.put(www, "api.example.com")
	if w := x.waiters("www.example.com"); len(w) != 1 || w[0] != acme {
		t.Fatalf("after a rename = %v", w)
	}
	x.delete(acme)
	if len(x.keys("")) != 1 || len(x.keys("beta")) != 0 || len(x.waiters("www.example.com")) != 0 {
		t.Fatalf("after delete: %v", x.keys(""))
	}
}

func TestNotifierQueuesWithoutBlockingOrDropping(t *testing.T) {
	n := newNotifier()
	// Before the controller starts: nothing blocks, nothing is lost.
	for i := range 1000 {
		n.add(dns.ClaimKey{Cluster: "c", Namespace: "ns", Name: fmt.Sprint(i % 10)})
	}
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[mcreconcile.Request]())
	defer q.ShutDown()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := n.source().Start(ctx, q); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for q.Len() < 10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	n.add(dns.ClaimKey{Cluster: "d", Namespace: "ns", Name: "late"})
	for q.Len() < 11 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if q.Len() != 11 {
		t.Fatalf("queue has %d requests, want 11 (10 deduplicated + 1 late)", q.Len())
	}
}
