package domainmanager

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	"sigs.k8s.io/multicluster-runtime/pkg/multicluster"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/pkg/dns"
)

// Registry is the hub's in-memory view of every DomainManager's claim, across
// all members, so that two DomainManagers claiming one name are ordered the
// same way wherever they live (dns.Resolve: earliest creationTimestamp, then
// cluster/namespace/name).
//
// Limits, by design:
//   - It is fed by reconciles and lives in the leader's memory only. After a
//     restart (or a leader change) it starts empty and fills as every
//     DomainManager is reconciled once. Until then a later claimant may look
//     unopposed; the owner marker in the record comment is what keeps it from
//     touching a record another DomainManager holds (it reports Conflict from
//     the marker), and once the earlier claim is known the later one hands
//     the record over (see dns.Handover).
//   - A member that is disengaged (unregistered, unreachable long enough to be
//     removed) takes its claims with it; its records stay, marked with their
//     owner, and nobody else touches them.
//   - Memory is one small entry per DomainManager.
type Registry struct {
	mu     sync.Mutex
	claims map[dns.ClaimKey]registered
	byName map[string]map[dns.ClaimKey]bool // active claims by FQDN
}

type registered struct {
	claim  dns.Claim
	active bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{claims: map[dns.ClaimKey]registered{}, byName: map[string]map[dns.ClaimKey]bool{}}
}

// Put records c. An inactive claim (spec invalid, name not allowed) is known
// for requeues but claims nothing. It returns the other DomainManagers whose
// standing changed (newly blocked, unblocked, or blocked by someone else).
func (r *Registry) Put(c dns.Claim, active bool) []dns.ClaimKey {
	c.FQDN = dns.NormalizeName(c.FQDN)
	r.mu.Lock()
	defer r.mu.Unlock()
	old, had := r.claims[c.Key]
	if had && old.active == active && sameClaim(old.claim, c) {
		return nil
	}
	names := []string{c.FQDN}
	if had && old.claim.FQDN != c.FQDN {
		names = append(names, old.claim.FQDN)
	}
	before := r.standing(names)
	r.remove(c.Key)
	r.claims[c.Key] = registered{claim: c, active: active}
	if active {
		if r.byName[c.FQDN] == nil {
			r.byName[c.FQDN] = map[dns.ClaimKey]bool{}
		}
		r.byName[c.FQDN][c.Key] = true
	}
	return changed(before, r.standing(names), c.Key)
}

// Delete forgets a DomainManager (it is gone) and returns the others whose
// standing changed: typically the next claimant, which may now take over.
func (r *Registry) Delete(k dns.ClaimKey) []dns.ClaimKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, had := r.claims[k]
	if !had {
		return nil
	}
	names := []string{old.claim.FQDN}
	before := r.standing(names)
	r.remove(k)
	return changed(before, r.standing(names), k)
}

// DeleteCluster forgets every DomainManager of a member that went away.
func (r *Registry) DeleteCluster(cluster string) []dns.ClaimKey {
	var out []dns.ClaimKey
	for _, k := range r.Keys(cluster) {
		out = append(out, r.Delete(k)...)
	}
	seen := map[dns.ClaimKey]bool{}
	var uniq []dns.ClaimKey
	for _, k := range out {
		if k.Cluster != cluster && !seen[k] {
			seen[k] = true
			uniq = append(uniq, k)
		}
	}
	return uniq
}

// BlockedBy returns the claim that keeps k from its name, if any.
func (r *Registry) BlockedBy(k dns.ClaimKey) (dns.Claim, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.claims[k]
	if !ok || !e.active {
		return dns.Claim{}, false
	}
	by, blocked := r.resolve(e.claim.FQDN)[k]
	return by, blocked
}

// Keys lists the known DomainManagers, of one cluster or ("") all.
func (r *Registry) Keys(cluster string) []dns.ClaimKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []dns.ClaimKey
	for k := range r.claims {
		if cluster == "" || k.Cluster == cluster {
			out = append(out, k)
		}
	}
	return out
}

// remove drops k. r.mu held.
func (r *Registry) remove(k dns.ClaimKey) {
	old, ok := r.claims[k]
	if !ok {
		return
	}
	delete(r.claims, k)
	if set := r.byName[old.claim.FQDN]; set != nil {
		delete(set, k)
		if len(set) == 0 {
			delete(r.byName, old.claim.FQDN)
		}
	}
}

// resolve orders the active claims on one name. r.mu held.
func (r *Registry) resolve(fqdn string) map[dns.ClaimKey]dns.Claim {
	set := r.byName[fqdn]
	claims := make([]dns.Claim, 0, len(set))
	for k := range set {
		claims = append(claims, r.claims[k].claim)
	}
	return dns.Resolve(claims)
}

// standing is, for every active claim on names, who blocks it ("" if nobody). r.mu held.
func (r *Registry) standing(names []string) map[dns.ClaimKey]dns.ClaimKey {
	out := map[dns.ClaimKey]dns.ClaimKey{}
	for _, n := range names {
		blocked := r.resolve(n)
		for k := range r.byName[n] {
			out[k] = blocked[k].Key
		}
	}
	return out
}

func sameClaim(a, b dns.Claim) bool {
	return a.Key == b.Key && a.FQDN == b.FQDN && a.Type == b.Type && a.Created.Equal(b.Created)
}

func changed(before, after map[dns.ClaimKey]dns.ClaimKey, self dns.ClaimKey) []dns.ClaimKey {
	var out []dns.ClaimKey
	for k, a := range after {
		if b, ok := before[k]; k != self && (!ok || a != b) {
			out = append(out, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok && k != self {
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
	mu      sync.Mutex
	pending map[mcreconcile.Request]bool
	signal  chan struct{}
}

func newNotifier() *notifier {
	return &notifier{pending: map[mcreconcile.Request]bool{}, signal: make(chan struct{}, 1)}
}

func (n *notifier) add(keys ...dns.ClaimKey) {
	if len(keys) == 0 {
		return
	}
	n.mu.Lock()
	for _, k := range keys {
		n.pending[mcreconcile.Request{
			ClusterName: multicluster.ClusterName(k.Cluster),
			Request:     reconcile.Request{NamespacedName: types.NamespacedName{Namespace: k.Namespace, Name: k.Name}},
		}] = true
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
				n.pending = map[mcreconcile.Request]bool{}
				n.mu.Unlock()
				for req := range batch {
					q.Add(req)
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

// engagement forgets a member's claims when it is disengaged. It is added to
// the multicluster manager, which engages it with every member.
type engagement struct {
	r  *Reconciler
	mu sync.Mutex
	// live maps a member to the context of its current engagement, so the end
	// of an old engagement does not drop the claims of a newer one.
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
			e.r.notify.add(e.r.claims.DeleteCluster(string(name))...)
		}
	}()
	return nil
}
