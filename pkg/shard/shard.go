// Package shard divides the members among hub replicas. It wires
// multicluster-runtime's sharded coordinator (rendezvous hashing over peer
// Leases, one fence Lease per member) and shares its view of the peers with
// the cluster provider, so a replica connects to — and caches — only the
// members whose shard it is, while the coordinator's fence guarantees that at
// most one replica reconciles a member at any time.
package shard

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	mcmanager "sigs.k8s.io/multicluster-runtime/pkg/manager"
	"sigs.k8s.io/multicluster-runtime/pkg/manager/coordinator/sharded"
	"sigs.k8s.io/multicluster-runtime/pkg/manager/coordinator/sharded/peers"
	"sigs.k8s.io/multicluster-runtime/pkg/manager/coordinator/sharded/sharder"
)

// Lease name prefixes in the hub namespace: fleethub-peer-<replica> says a
// replica is alive, fleethub-shard-<member> says which replica serves a member.
const (
	PeerLeasePrefix  = "fleethub-peer"
	FenceLeasePrefix = "fleethub-shard"
)

// Both live in the hub namespace, so the hub Role's rule for the leader Lease
// (get, list, create, update, delete on leases there) covers them.

// Options shape the coordinator.
type Options struct {
	// Namespace holds the peer and fence Leases (the hub namespace).
	Namespace string
	// ReplicaID is this replica's name among its peers.
	ReplicaID string
	// LeaseDuration is how long a fence outlives its holder's last renewal;
	// it is renewed every third of it.
	LeaseDuration time.Duration
	// Probe is how often the coordinator re-decides which members it runs
	// (default 2s).
	Probe time.Duration
	// LeaderLease names the Lease of the unsharded hub's leader election.
	// While an unsharded leader still holds it (a rollout from one active
	// replica to sharded ones), sharded replicas serve nothing, so no member
	// ever has two writers.
	LeaderLease string
}

// Ring is this replica's view of its live peers and so of its own shard.
type Ring struct {
	reg    *registry
	hasher sharder.Sharder
}

// New returns the ring and the coordinator that share it; pass the
// coordinator to the multicluster manager (mcmanager.WithCoordinator) and the
// ring's Owns to the cluster provider.
func New(hub client.Client, log logr.Logger, o Options) (*Ring, mcmanager.Coordinator) {
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = 20 * time.Second
	}
	if o.Probe <= 0 {
		o.Probe = 2 * time.Second
	}
	log = log.WithName("shard").WithValues("replica", o.ReplicaID)
	reg := &registry{
		Registry: peers.NewLeaseRegistry(hub, o.Namespace, PeerLeasePrefix, o.ReplicaID, 1, log),
		hub:      hub, namespace: o.Namespace, leaderLease: o.LeaderLease, log: log,
	}
	ring := &Ring{reg: reg, hasher: sharder.NewHRW()}
	coord := sharded.New(hub, log,
		sharded.WithPeerRegistry(reg),
		sharded.WithSharder(ring.hasher),
		sharded.WithShardLease(o.Namespace, FenceLeasePrefix),
		sharded.WithPerClusterLease(true),
		sharded.WithLeaseTimings(o.LeaseDuration, o.LeaseDuration/3, time.Second),
		sharded.WithSynchronizationIntervals(o.Probe, 5*o.Probe),
	)
	return ring, coord
}

// Owns reports whether member belongs to this replica's shard. Until the
// replica has seen its peers once it owns nothing: every replica starting at
// once would otherwise connect to every member.
func (r *Ring) Owns(member string) bool {
	snap := r.reg.Snapshot()
	if len(snap) == 0 || r.reg.unshardedLeader.Load() {
		return false
	}
	return r.hasher.ShouldOwn(member, snap, r.reg.Self())
}

// Replica is this replica's name as its peers see it.
func (r *Ring) Replica() string { return r.reg.Self().ID }

// Peers is the number of live replicas, this one included (0 until the
// first look at the peer Leases).
func (r *Ring) Peers() int { return len(r.reg.Snapshot()) }

// registry is the Lease registry that also withdraws this replica's peer
// Lease when it stops, so on a rollout the others take its members over at
// their next look instead of waiting for the Lease to expire; and that tells
// whether an unsharded leader is still active.
type registry struct {
	peers.Registry
	hub         client.Client
	namespace   string
	leaderLease string
	log         logr.Logger
	// unshardedLeader: a replica of an unsharded hub still leads.
	unshardedLeader atomic.Bool
}

func (r *registry) Run(ctx context.Context) error {
	if r.leaderLease != "" {
		r.unshardedLeader.Store(true) // until the first look says otherwise
		go r.watchLeader(ctx)
	}
	err := r.Registry.Run(ctx)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	lease := &coordinationv1.Lease{}
	key := client.ObjectKey{Namespace: r.namespace, Name: fmt.Sprintf("%s-%s", PeerLeasePrefix, r.Self().ID)}
	if gerr := r.hub.Get(dctx, key, lease); gerr == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity == r.Self().ID {
		if derr := r.hub.Delete(dctx, lease, client.Preconditions{UID: &lease.UID, ResourceVersion: &lease.ResourceVersion}); derr != nil && !apierrors.IsNotFound(derr) {
			r.log.Error(derr, "Withdrawing the peer Lease failed; peers take over when it expires")
		}
	}
	return err
}

// watchLeader looks at the unsharded leader Lease every few seconds.
func (r *registry) watchLeader(ctx context.Context) {
	for {
		lease := &coordinationv1.Lease{}
		err := r.hub.Get(ctx, client.ObjectKey{Namespace: r.namespace, Name: r.leaderLease}, lease)
		held := err == nil && leaseHeld(lease, time.Now())
		if err != nil && !apierrors.IsNotFound(err) {
			held = r.unshardedLeader.Load() // unknown: keep the last answer
		}
		if r.unshardedLeader.Swap(held) != held {
			r.log.Info("Unsharded leader", "active", held, "lease", r.leaderLease)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
	}
}

// leaseHeld reports whether a Lease has a holder whose term has not run out.
func leaseHeld(l *coordinationv1.Lease, now time.Time) bool {
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" || l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return false
	}
	return now.Before(l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second))
}

// Sizes reports how many members a replica serves; see Publish.
type Sizes func() (served int)

var (
	published   = map[string]publishedRing{}
	publishedMu sync.Mutex
	register    sync.Once
	peersDesc   = prometheus.NewDesc("fleethub_hub_replicas", "Live hub replicas as this replica sees them (1 without sharding).", []string{"replica"}, nil)
	servedDesc  = prometheus.NewDesc("fleethub_hub_served_members", "Member clusters this replica serves: engaged and handed to its controllers.", []string{"replica"}, nil)
)

type publishedRing struct {
	peers  func() int
	served Sizes
}

// Publish exports, for the replica named id, the number of live replicas
// and of members it serves (fleethub_hub_replicas, fleethub_hub_served_members).
// Several replicas in one process (tests) each get their own series.
func Publish(id string, peers func() int, served Sizes) {
	register.Do(func() { crmetrics.Registry.MustRegister(collector{}) })
	publishedMu.Lock()
	defer publishedMu.Unlock()
	published[id] = publishedRing{peers: peers, served: served}
}

// Unpublish drops a replica's series (its manager stopped).
func Unpublish(id string) {
	publishedMu.Lock()
	defer publishedMu.Unlock()
	delete(published, id)
}

type collector struct{}

func (collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- peersDesc
	ch <- servedDesc
}

func (collector) Collect(ch chan<- prometheus.Metric) {
	publishedMu.Lock()
	defer publishedMu.Unlock()
	for id, r := range published {
		ch <- prometheus.MustNewConstMetric(peersDesc, prometheus.GaugeValue, float64(r.peers()), id)
		ch <- prometheus.MustNewConstMetric(servedDesc, prometheus.GaugeValue, float64(r.served()), id)
	}
}
