package domainmanager

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	"sigs.k8s.io/multicluster-runtime/pkg/multicluster"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/pkg/dns"
)

// index is this process's map of the DomainManagers it has seen and the
// names they want, so that a change to a name (a claim released or passed
// on, a policy change) re-queues exactly the DomainManagers waiting on it.
// It decides nothing: who holds a name is the hub claim's business
// (claimstore.go). An underscore name also waits on its base name.
type index struct {
	mu     sync.Mutex
	byKey  map[dns.ClaimKey]string
	byName map[string]map[dns.ClaimKey]bool
}

func newIndex() *index {
	return &index{byKey: map[dns.ClaimKey]string{}, byName: map[string]map[dns.ClaimKey]bool{}}
}

func (x *index) put(k dns.ClaimKey, fqdn string) {
	fqdn = dns.NormalizeName(fqdn)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byKey[k] == fqdn {
		return
	}
	x.removeLocked(k)
	x.byKey[k] = fqdn
	for _, n := range []string{fqdn, dns.BaseName(fqdn)} {
		if x.byName[n] == nil {
			x.byName[n] = map[dns.ClaimKey]bool{}
		}
		x.byName[n][k] = true
	}
}

func (x *index) delete(k dns.ClaimKey) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(k)
}

func (x *index) removeLocked(k dns.ClaimKey) {
	fqdn, ok := x.byKey[k]
	if !ok {
		return
	}
	delete(x.byKey, k)
	for _, n := range []string{fqdn, dns.BaseName(fqdn)} {
		delete(x.byName[n], k)
		if len(x.byName[n]) == 0 {
			delete(x.byName, n)
		}
	}
}

// waiters are the DomainManagers that want fqdn or a name under it.
func (x *index) waiters(fqdn string) []dns.ClaimKey {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []dns.ClaimKey
	for k := range x.byName[dns.NormalizeName(fqdn)] {
		out = append(out, k)
	}
	return out
}

// waitersOfObject are the waiters of the name a claim object is for.
func (x *index) waitersOfObject(object string) []dns.ClaimKey {
	x.mu.Lock()
	names := map[string]bool{}
	for _, fqdn := range x.byKey {
		for _, t := range claimTypes {
			if claimObjectName(fqdn, t) == object {
				names[fqdn], names[dns.BaseName(fqdn)] = true, true
			}
		}
	}
	x.mu.Unlock()
	var out []dns.ClaimKey
	for n := range names {
		out = append(out, x.waiters(n)...)
	}
	return out
}

// keys lists the known DomainManagers, of one cluster or ("") all.
func (x *index) keys(cluster string) []dns.ClaimKey {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []dns.ClaimKey
	for k := range x.byKey {
		if cluster == "" || k.Cluster == cluster {
			out = append(out, k)
		}
	}
	return out
}

// notifier queues reconcile requests from outside the watches (claim
// changes, credential rotation, policy changes) into the controller's queue.
// It never blocks and never drops: requests wait in a set until the
// controller has started.
type notifier struct {
	mu sync.Mutex
	// pending maps a request to its delay (0: at once).
	pending map[mcreconcile.Request]time.Duration
	signal  chan struct{}
}

func newNotifier() *notifier {
	return &notifier{pending: map[mcreconcile.Request]time.Duration{}, signal: make(chan struct{}, 1)}
}

func (n *notifier) add(keys ...dns.ClaimKey) { n.after(0, keys...) }

// after queues keys once d has passed (a terminal outcome's re-check).
func (n *notifier) after(d time.Duration, keys ...dns.ClaimKey) {
	if len(keys) == 0 {
		return
	}
	n.mu.Lock()
	for _, k := range keys {
		req := mcreconcile.Request{
			ClusterName: multicluster.ClusterName(k.Cluster),
			Request:     reconcile.Request{NamespacedName: types.NamespacedName{Namespace: k.Namespace, Name: k.Name}},
		}
		if cur, ok := n.pending[req]; !ok || d < cur {
			n.pending[req] = d
		}
	}
	n.mu.Unlock()
	select {
	case n.signal <- struct{}{}:
	default:
	}
}

// source feeds the controller's queue until the controller stops.
func (n *notifier) source() source.TypedSource[mcreconcile.Request] {
	return source.TypedFunc[mcreconcile.Request](func(ctx context.Context, q workqueue.TypedRateLimitingInterface[mcreconcile.Request]) error {
		go func() {
			for {
				n.mu.Lock()
				batch := n.pending
				n.pending = map[mcreconcile.Request]time.Duration{}
				n.mu.Unlock()
				for req, d := range batch {
					if d > 0 {
						q.AddAfter(req, d)
					} else {
						q.Add(req)
					}
				}
				select {
				case <-ctx.Done():
					return
				case <-n.signal:
				}
			}
		}()
		return nil
	})
}

// engagement forgets a member's DomainManagers in the index when it is
// disengaged (their claims stay at the hub). It is added to the multicluster
// manager, which engages it with every member.
type engagement struct {
	r  *Reconciler
	mu sync.Mutex
	// live maps a member to the context of its current engagement, so the end
	// of an old engagement does not drop the entries of a newer one.
	live map[string]context.Context
}

func (e *engagement) Start(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

func (e *engagement) Engage(ctx context.Context, name multicluster.ClusterName, _ cluster.Cluster) error {
	e.mu.Lock()
	e.live[string(name)] = ctx
	e.mu.Unlock()
	go func() {
		<-ctx.Done()
		e.mu.Lock()
		current := e.live[string(name)] == ctx
		if current {
			delete(e.live, string(name))
		}
		e.mu.Unlock()
		if current {
			for _, k := range e.r.index.keys(string(name)) {
				e.r.index.delete(k)
			}
		}
	}()
	return nil
}
