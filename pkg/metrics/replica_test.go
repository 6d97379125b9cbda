package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

func TestReplicaFilterLabelsEverySeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "demo_total", Help: "demo"}, []string{"cluster"})
	reg.MustRegister(c)
	c.WithLabelValues("m1").Inc()
	own := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "demo_own", Help: "demo"}, []string{ReplicaLabel})
	reg.MustRegister(own)
	own.WithLabelValues("other").Set(1)

	filter, err := ReplicaFilter(reg, "hub-a")(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := filter(logr.Discard(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	out := string(body)
	if !strings.Contains(out, `demo_total{cluster="m1",replica="hub-a"} 1`) {
		t.Errorf("series not labelled with the replica:\n%s", out)
	}
	// A series that names its replica already keeps it.
	if !strings.Contains(out, `demo_own{replica="other"} 1`) || strings.Contains(out, `demo_own{replica="other",replica=`) {
		t.Errorf("own replica label overwritten or doubled:\n%s", out)
	}
}
