package metrics

import (
	"net/http"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// ReplicaLabel names the hub replica on every series it exports, so the
// replicas of a sharded hub can be told apart (and summed) in queries.
const ReplicaLabel = "replica"

// withReplica is a Gatherer that adds replica=<id> to every series of g.
type withReplica struct {
	g  prometheus.Gatherer
	id string
}

func (w withReplica) Gather() ([]*dto.MetricFamily, error) {
	families, err := w.g.Gather()
	name, value := ReplicaLabel, w.id
	for _, f := range families {
		for _, m := range f.Metric {
			if !hasLabel(m, ReplicaLabel) {
				m.Label = append(m.Label, &dto.LabelPair{Name: &name, Value: &value})
			}
		}
	}
	return families, err
}

func hasLabel(m *dto.Metric, name string) bool {
	for _, l := range m.Label {
		if l.GetName() == name {
			return true
		}
	}
	return false
}

// ReplicaFilter serves the metrics endpoint from g with every series
// labelled replica=<id>; pass it as metricsserver.Options.FilterProvider.
func ReplicaFilter(g prometheus.Gatherer, id string) func(*rest.Config, *http.Client) (metricsserver.Filter, error) {
	handler := promhttp.HandlerFor(withReplica{g: g, id: id}, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
	return func(*rest.Config, *http.Client) (metricsserver.Filter, error) {
		return func(logr.Logger, http.Handler) (http.Handler, error) { return handler, nil }, nil
	}
}
