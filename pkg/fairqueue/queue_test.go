package fairqueue

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/multicluster-runtime/pkg/multicluster"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"
)

// Items are "cluster/name"; the lane is the cluster.
func laneOf(s string) string { return strings.SplitN(s, "/", 2)[0] }

func newTestQueue(t *testing.T) (*Queue[string], *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	q := New(laneOf, workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, time.Minute), Options{Clock: clk})
	t.Cleanup(q.ShutDown)
	return q, clk
}

func items(cluster string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s/%d", cluster, i)
	}
	return out
}

// getDone takes n items, finishing each before taking the next.
func getDone(t *testing.T, q *Queue[string], n int) []string {
	t.Helper()
	var got []string
	for range n {
		it, shutdown := q.Get()
		if shutdown {
			t.Fatalf("queue shut down after %v", got)
		}
		got = append(got, it)
		q.Done(it)
	}
	return got
}

func TestRoundRobinAcrossLanes(t *testing.T) {
	q, _ := newTestQueue(t)
	for _, it := range append(append(items("a", 3), items("b", 2)...), items("c", 1)...) {
		q.Add(it)
	}
	got := getDone(t, q, 6)
	want := []string{"a/0", "b/0", "c/0", "a/1", "b/1", "a/2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
	if q.Len() != 0 || q.Lanes() != 0 {
		t.Fatalf("after draining: Len %d, lanes %d; want 0, 0 (empty lanes are dropped)", q.Len(), q.Lanes())
	}
}

func TestNewLaneIsServedBeforeABacklogDrains(t *testing.T) {
	q, _ := newTestQueue(t)
	for _, it := range items("a", 1000) {
		q.Add(it)
	}
	getDone(t, q, 10)
	q.Add("b/new")
	got := getDone(t, q, 2)
	if got[0] != "b/new" && got[1] != "b/new" {
		t.Fatalf("a lane joining behind a backlog of 990 waited: next items %v", got)
	}
	if queued, _ := q.Lane("a"); queued != 989 {
		t.Fatalf("lane a: %d queued, want 989", queued)
	}
}

// A lane whose items stay in flight (a slow member) gets no further worker
// while another lane with fewer in flight has work.
func TestSlowLaneCannotHoldMoreThanItsShare(t *testing.T) {
	q, _ := newTestQueue(t)
	for _, it := range items("slow", 100) {
		q.Add(it)
	}
	// Only the slow member has work: it may take every worker (3 here).
	for range 3 {
		if it, _ := q.Get(); laneOf(it) != "slow" {
			t.Fatalf("got %s", it)
		}
	}
	for _, it := range items("fast", 20) {
		q.Add(it)
	}
	// The fourth worker serves the fast member over and over while the
	// slow member's three items are in flight.
	got := getDone(t, q, 20)
	for _, it := range got {
		if laneOf(it) != "fast" {
			t.Fatalf("slow member got a fourth worker while fast had work: %v", got)
		}
	}
	if queued, inflight := q.Lane("slow"); queued != 97 || inflight != 3 {
		t.Fatalf("slow lane: %d queued, %d in flight; want 97, 3", queued, inflight)
	}
	// When the fast lane is empty the slow one gets the worker again.
	if it, _ := q.Get(); laneOf(it) != "slow" {
		t.Fatalf("got %s, want a slow item once no one else waits", it)
	}
}

func TestEqualInFlightAlternates(t *testing.T) {
	q, _ := newTestQueue(t)
	for _, it := range append(items("a", 10), items("b", 10)...) {
		q.Add(it)
	}
	var got []string
	for range 4 { // four workers, none finished
		it, _ := q.Get()
		got = append(got, laneOf(it))
	}
	if fmt.Sprint(got) != "[a b a b]" {
		t.Fatalf("lanes of four held items = %v, want [a b a b]", got)
	}
}

func TestDeduplicatesAndRequeuesWhileProcessing(t *testing.T) {
	q, _ := newTestQueue(t)
	q.Add("a/x")
	q.Add("a/x")
	if q.Len() != 1 {
		t.Fatalf("Len = %d after adding one item twice, want 1", q.Len())
	}
	it, _ := q.Get()
	q.Add("a/x") // changed while being reconciled
	if q.Len() != 0 {
		t.Fatalf("an item in flight must not be handed to a second worker")
	}
	q.Done(it)
	if q.Len() != 1 {
		t.Fatalf("an item added while in flight must be queued again on Done, Len = %d", q.Len())
	}
	if queued, inflight := q.Lane("a"); queued != 1 || inflight != 0 {
		t.Fatalf("lane a: %d queued, %d in flight; want 1, 0", queued, inflight)
	}
	getDone(t, q, 1)
	q.Done("a/never-got") // a stray Done changes nothing
	if q.Lanes() != 0 {
		t.Fatalf("lanes = %d, want 0", q.Lanes())
	}
}

func TestDelayedAndRateLimitedAdds(t *testing.T) {
	q, clk := newTestQueue(t)
	q.AddAfter("a/later", 10*time.Second)
	q.AddRateLimited("b/failed") // 1s: first failure
	q.AddRateLimited("b/failed") // 2s: second failure
	if q.NumRequeues("b/failed") != 2 {
		t.Fatalf("NumRequeues = %d, want 2", q.NumRequeues("b/failed"))
	}
	if q.Len() != 0 {
		t.Fatalf("delayed items are queued early")
	}
	clk.Step(3 * time.Second)
	waitLen(t, q, 1)
	if it := getDone(t, q, 1)[0]; it != "b/failed" {
		t.Fatalf("got %s, want b/failed", it)
	}
	q.Forget("b/failed")
	if q.NumRequeues("b/failed") != 0 {
		t.Fatalf("Forget did not reset the backoff")
	}
	clk.Step(10 * time.Second)
	waitLen(t, q, 1)
	if it := getDone(t, q, 1)[0]; it != "a/later" {
		t.Fatalf("got %s, want a/later", it)
	}
}

func waitLen(t *testing.T, q *Queue[string], n int) {
	t.Helper()
	// The delaying queue moves due items from its own goroutine.
	deadline := time.Now().Add(30 * time.Second)
	for q.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("Len = %d, want %d", q.Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestShutDownReleasesWorkers(t *testing.T) {
	q, _ := newTestQueue(t)
	got := make(chan bool)
	go func() { _, shutdown := q.Get(); got <- shutdown }()
	q.ShutDown()
	if !<-got {
		t.Fatal("Get on a shut-down queue did not report shutdown")
	}
}

// Many workers and producers at once: every item is processed exactly once
// and no lane is left behind (run with -race).
func TestConcurrentWorkers(t *testing.T) {
	q, _ := newTestQueue(t)
	const lanesN, perLane, workers = 8, 200, 4
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				it, shutdown := q.Get()
				if shutdown {
					return
				}
				mu.Lock()
				seen[it]++
				mu.Unlock()
				q.Done(it)
			}
		}()
	}
	var prod sync.WaitGroup
	for l := 0; l < lanesN; l++ {
		prod.Add(1)
		go func() {
			defer prod.Done()
			for _, it := range items(fmt.Sprint("m", l), perLane) {
				q.Add(it)
			}
		}()
	}
	prod.Wait()
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == lanesN*perLane && q.Lanes() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processed %d of %d items, %d lanes left", n, lanesN*perLane, q.Lanes())
		}
		time.Sleep(time.Millisecond)
	}
	q.ShutDown()
	wg.Wait()
	for it, n := range seen {
		if n != 1 {
			t.Fatalf("%s processed %d times", it, n)
		}
	}
}

func TestKeyedBucketIsPerKey(t *testing.T) {
	rl := NewKeyedBucketRateLimiter(laneOf, rate.Limit(1), 5)
	for i := range 5 {
		if d := rl.When(fmt.Sprint("a/", i)); d != 0 {
			t.Fatalf("burst item %d delayed %s", i, d)
		}
	}
	if d := rl.When("a/over"); d <= 0 {
		t.Fatalf("an exhausted bucket did not delay: %s", d)
	}
	if d := rl.When("b/0"); d != 0 {
		t.Fatalf("member b waits on member a's bucket: %s", d)
	}
}

func TestClusterQueueLanesByClusterName(t *testing.T) {
	q := NewClusterQueue("test", nil)
	defer q.ShutDown()
	req := func(cluster, name string) mcreconcile.Request {
		return mcreconcile.Request{ClusterName: multicluster.ClusterName(cluster), Request: reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: name}}}
	}
	for i := range 50 {
		q.Add(req("a", fmt.Sprint(i)))
	}
	q.Add(req("b", "x"))
	first, _ := q.Get()
	second, _ := q.Get()
	if first.ClusterName != "a" || second.ClusterName != "b" {
		t.Fatalf("got %s then %s, want a then b", first, second)
	}
}

func TestClusterRateLimiterBucketIsPerCluster(t *testing.T) {
	rl := ClusterRateLimiter()
	req := func(cluster, name string) mcreconcile.Request {
		return mcreconcile.Request{ClusterName: multicluster.ClusterName(cluster), Request: reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: name}}}
	}
	var last time.Duration
	for i := range 150 { // 100 burst, then 10/s: the 150th waits ~5s
		last = rl.When(req("a", fmt.Sprint(i)))
	}
	if last < time.Second {
		t.Fatalf("member a's 150th retry waits %s, want its bucket exhausted", last)
	}
	if d := rl.When(req("b", "x")); d != baseDelay {
		t.Fatalf("member b's first retry waits %s, want the base delay %s", d, baseDelay)
	}
}
