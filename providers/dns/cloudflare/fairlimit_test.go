package cloudflare

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// waitQueued blocks until member has n requests waiting.
func waitQueued(t *testing.T, l *fairLimiter, member string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l.mu.Lock()
		got := len(l.waiting[member])
		l.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d requests waiting, want %d", member, got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFairLimiterGivesEachMemberItsTurn(t *testing.T) {
	l := newFairLimiter(rate.Limit(50), 1)
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	wait := func(member string) {
		defer wg.Done()
		if err := l.Wait(context.Background(), member); err != nil {
			t.Error(err)
		}
		mu.Lock()
		order = append(order, member)
		mu.Unlock()
	}
	const backlog = 30
	for range backlog {
		wg.Add(1)
		go wait("flood")
	}
	waitQueued(t, l, "flood", backlog-5) // a few may have gone already
	mu.Lock()
	before := len(order)
	mu.Unlock()
	wg.Add(2)
	go wait("quiet")
	go wait("") // the hub's own calls are a lane of their own
	wg.Wait()

	pos := map[string]int{}
	for i, m := range order {
		if _, ok := pos[m]; !ok {
			pos[m] = i
		}
	}
	// Three lanes take turns: after the others joined, at most two flood
	// grants precede each of them (the one in progress and one turn).
	for _, m := range []string{"quiet", ""} {
		if floods := pos[m] - before; floods > 3 {
			t.Fatalf("member %q waited behind %d of the flood's requests: %v", m, floods, order)
		}
	}
	if len(order) != backlog+2 {
		t.Fatalf("%d grants, want %d", len(order), backlog+2)
	}
}

func TestFairLimiterCancelledWaiterGivesUpItsTurn(t *testing.T) {
	l := newFairLimiter(rate.Limit(5), 1)
	if err := l.Wait(context.Background(), "a"); err != nil { // spends the burst
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx, "a"); err == nil {
		t.Fatal("a cancelled wait succeeded")
	}
	// The next caller is served; the dispatcher skips the cancelled one.
	done := make(chan error, 1)
	go func() { done <- l.Wait(context.Background(), "b") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a waiter after a cancelled one was never served")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.waiting) != 0 || len(l.ring) != 0 {
		t.Fatalf("state left behind: %v %v", l.waiting, l.ring)
	}
}

// Hub replicas share the account's budget: each spends its share.
func TestShareBudgetDividesByReplicas(t *testing.T) {
	p := New(Options{RequestsPerSecond: 9, Burst: 6})
	for _, tc := range []struct {
		replicas int
		limit    float64
		burst    int
	}{{3, 3, 2}, {1, 9, 6}, {0, 9, 6}, {12, 0.75, 1}} {
		p.ShareBudget(tc.replicas)
		if got := float64(p.limiter.bucket.Limit()); got != tc.limit || p.limiter.bucket.Burst() != tc.burst {
			t.Errorf("%d replicas: limit %v burst %d, want %v and %d", tc.replicas, got, p.limiter.bucket.Burst(), tc.limit, tc.burst)
		}
	}
}
