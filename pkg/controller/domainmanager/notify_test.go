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
