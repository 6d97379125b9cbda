package domainmanager

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/pkg/dns"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func claimOf(cluster, name, fqdn, typ string, at int) dns.Claim {
	return dns.Claim{Key: dns.ClaimKey{Cluster: cluster, Namespace: "ns", Name: name}, FQDN: fqdn, Type: typ, Created: t0.Add(time.Duration(at) * time.Second)}
}

func keys(ks []dns.ClaimKey) string {
	var s []string
	for _, k := range ks {
		s = append(s, k.String())
	}
	sort.Strings(s)
	return fmt.Sprint(s)
}

func TestRegistryOrdersClaimsAndReportsChanges(t *testing.T) {
	r := NewRegistry()
	first := claimOf("alpha", "first", "www.example.com", "A", 0)
	second := claimOf("beta", "second", "WWW.example.com", "A", 10)

	if ch := r.Put(second, true); len(ch) != 0 {
		t.Fatalf("lone claim changed others: %v", ch)
	}
	if _, blocked := r.BlockedBy(second.Key); blocked {
		t.Fatal("lone claim blocked")
	}
	// The earlier claim arrives (e.g. its member was engaged later): the
	// later one is now blocked and must be told.
	if ch := r.Put(first, true); keys(ch) != "[beta/ns/second]" {
		t.Fatalf("changes = %v", keys(ch))
	}
	if by, blocked := r.BlockedBy(second.Key); !blocked || by.Key != first.Key {
		t.Fatalf("second blocked by %v %v", by, blocked)
	}
	// Re-putting the same claim is a no-op.
	if ch := r.Put(first, true); len(ch) != 0 {
		t.Fatalf("no-op put reported %v", ch)
	}
	// An unrelated name does not disturb anybody.
	if ch := r.Put(claimOf("alpha", "other", "api.example.com", "A", 1), true); len(ch) != 0 {
		t.Fatalf("unrelated put reported %v", ch)
	}
	// The first moves to another name: the second is unblocked.
	moved := first
	moved.FQDN = "new.example.com"
	if ch := r.Put(moved, true); keys(ch) != "[beta/ns/second]" {
		t.Fatalf("move reported %v", keys(ch))
	}
	if _, blocked := r.BlockedBy(second.Key); blocked {
		t.Fatal("still blocked after the winner moved away")
	}
	r.Put(first, true)
	// The first becomes inactive (policy): it no longer claims anything.
	if ch := r.Put(first, false); keys(ch) != "[beta/ns/second]" {
		t.Fatalf("deactivation reported %v", keys(ch))
	}
	r.Put(first, true)
	// The winner is deleted: the next claimant takes over.
	if ch := r.Delete(first.Key); keys(ch) != "[beta/ns/second]" {
		t.Fatalf("delete reported %v", keys(ch))
	}
	if _, blocked := r.BlockedBy(second.Key); blocked {
		t.Fatal("still blocked after the winner went")
	}
	if ch := r.Delete(first.Key); ch != nil {
		t.Fatalf("second delete reported %v", ch)
	}
}

func TestRegistryDeleteCluster(t *testing.T) {
	r := NewRegistry()
	r.Put(claimOf("alpha", "a1", "www.example.com", "A", 0), true)
	r.Put(claimOf("alpha", "a2", "api.example.com", "A", 0), true)
	r.Put(claimOf("beta", "b1", "www.example.com", "A", 5), true)
	r.Put(claimOf("beta", "b2", "api.example.com", "CNAME", 5), true)
	r.Put(claimOf("beta", "b3", "free.example.com", "A", 5), true)
	if ch := r.DeleteCluster("alpha"); keys(ch) != "[beta/ns/b1 beta/ns/b2]" {
		t.Fatalf("changes = %v", keys(ch))
	}
	if len(r.Keys("alpha")) != 0 || len(r.Keys("beta")) != 3 || len(r.Keys("")) != 3 {
		t.Fatalf("keys left: %v", r.Keys(""))
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
