package kubeconfig

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/fleethub/fleethub/pkg/membersecret"
)

// memberMetrics publishes member health: one ready gauge per member and a
// count of members per state. Series of removed members are deleted.
type memberMetrics struct {
	ready   *prometheus.GaugeVec
	byState *prometheus.GaugeVec

	mu     sync.Mutex
	states map[string]membersecret.State
}

var (
	metricsOnce sync.Once
	shared      *memberMetrics
)

// defaultMetrics registers the member metrics once per process on
// controller-runtime's registry, which the manager serves on /metrics.
func defaultMetrics() *memberMetrics {
	metricsOnce.Do(func() {
		shared = &memberMetrics{
			ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{
				Name: "fleethub_member_cluster_ready",
				Help: "1 when the member cluster is connected and every fleethub kind is engaged, else 0.",
			}, []string{"cluster"}),
			byState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
				Name: "fleethub_member_clusters",
				Help: "Number of registered member clusters by state.",
			}, []string{"state"}),
			states: map[string]membersecret.State{},
		}
		metrics.Registry.MustRegister(shared.ready, shared.byState)
	})
	return shared
}

func (m *memberMetrics) set(cluster string, st membersecret.State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[cluster] = st
	v := 0.0
	if st == membersecret.StateReady {
		v = 1
	}
	m.ready.WithLabelValues(cluster).Set(v)
	m.recount()
}

func (m *memberMetrics) forget(cluster string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.states, cluster)
	m.ready.DeleteLabelValues(cluster)
	m.recount()
}

func (m *memberMetrics) recount() {
	counts := map[membersecret.State]int{}
	for _, st := range m.states {
		counts[st]++
	}
	for _, st := range membersecret.States {
		m.byState.WithLabelValues(string(st)).Set(float64(counts[st]))
	}
}
