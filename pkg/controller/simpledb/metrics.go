package simpledb

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/multicluster-runtime/pkg/multicluster"
)

var (
	managedDesc = prometheus.NewDesc("simpledb_managed_instances",
		"SimpleDBs fleethub manages, per member cluster.", []string{"cluster"}, nil)
	readyDesc = prometheus.NewDesc("simpledb_ready_instances",
		"SimpleDBs whose Ready condition is True, per member cluster.", []string{"cluster"}, nil)
)

// inventory is what the SimpleDB gauges report: per engaged member, the
// SimpleDBs last reconciled there and whether each was ready. Reconciles
// record and forget SimpleDBs; a member's series go away when it is
// disengaged. The values are computed at scrape time from this map, so there
// is no gauge to forget to reset. A nil inventory records nothing.
type inventory struct {
	mu       sync.Mutex
	clusters map[string]*memberInventory
}

type memberInventory struct {
	// epoch tells engagements apart, so the end of an old one cannot wipe
	// what a newer engagement of the same name recorded.
	epoch uint64
	ready map[types.NamespacedName]bool
}

func newInventory() *inventory {
	return &inventory{clusters: map[string]*memberInventory{}}
}

func (inv *inventory) member(cluster string) *memberInventory {
	m := inv.clusters[cluster]
	if m == nil {
		m = &memberInventory{}
		inv.clusters[cluster] = m
	}
	return m
}

// observe records a reconciled SimpleDB and its readiness.
func (inv *inventory) observe(cluster string, key types.NamespacedName, ready bool) {
	if inv == nil {
		return
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	m := inv.member(cluster)
	if m.ready == nil {
		m.ready = map[types.NamespacedName]bool{}
	}
	m.ready[key] = ready
}

// forget drops a SimpleDB that is gone.
func (inv *inventory) forget(cluster string, key types.NamespacedName) {
	if inv == nil {
		return
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if m := inv.clusters[cluster]; m != nil {
		delete(m.ready, key)
	}
}

// engaged notes a new engagement of a member and returns its epoch. The
// member's series appear with its first reconciled SimpleDB, so members
// without the SimpleDB CRD report nothing.
func (inv *inventory) engaged(cluster string) uint64 {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	m := inv.member(cluster)
	m.epoch++
	return m.epoch
}

// disengaged drops a member's series, unless it was engaged again since.
func (inv *inventory) disengaged(cluster string, epoch uint64) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if m := inv.clusters[cluster]; m != nil && m.epoch == epoch {
		delete(inv.clusters, cluster)
	}
}

// Describe implements prometheus.Collector.
func (inv *inventory) Describe(ch chan<- *prometheus.Desc) {
	ch <- managedDesc
	ch <- readyDesc
}

// Collect implements prometheus.Collector.
func (inv *inventory) Collect(ch chan<- prometheus.Metric) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	names := make([]string, 0, len(inv.clusters))
	for n := range inv.clusters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := inv.clusters[n]
		if m.ready == nil {
			continue
		}
		ready := 0
		for _, r := range m.ready {
			if r {
				ready++
			}
		}
		ch <- prometheus.MustNewConstMetric(managedDesc, prometheus.GaugeValue, float64(len(m.ready)), n)
		ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, float64(ready), n)
	}
}

// metricsRunnable exposes the inventory on controller-runtime's registry
// while the manager runs (only on the leader, like the reconciles that fill
// it) and follows member engagement.
type metricsRunnable struct {
	inv *inventory
}

var _ multicluster.Aware = metricsRunnable{}

// Engage is called for every member the manager engages; ctx ends when the
// member is disengaged.
func (r metricsRunnable) Engage(ctx context.Context, name multicluster.ClusterName, _ cluster.Cluster) error {
	epoch := r.inv.engaged(name.String())
	go func() {
		<-ctx.Done()
		r.inv.disengaged(name.String(), epoch)
	}()
	return nil
}

// Start registers the collector and unregisters it when the manager stops,
// so a manager started again in the same process can register its own.
func (r metricsRunnable) Start(ctx context.Context) error {
	if err := metrics.Registry.Register(r.inv); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return err
		}
		// Another manager in this process (tests) exports its own inventory.
		ctrl.Log.WithName("simpledb").Info("SimpleDB metrics already registered by another manager; not exporting this one's")
		<-ctx.Done()
		return nil
	}
	<-ctx.Done()
	metrics.Registry.Unregister(r.inv)
	return nil
}
