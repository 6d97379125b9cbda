package metrics

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// gather renders the inventory's series as "name{labels} value" lines.
func gather(t *testing.T, inv *inventory) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(inv); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetValue())
			}
			lines = append(lines, fmt.Sprintf("%s{%s} %s", f.GetName(), strings.Join(labels, ","),
				strconv.FormatFloat(m.GetGauge().GetValue(), 'f', -1, 64)))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestInventory(t *testing.T) {
	tests := map[string]struct {
		steps func(inv *inventory)
		want  string
	}{
		"nothing reconciled": {
			steps: func(*inventory) {},
			want:  "",
		},
		"counts per cluster and kind, SimpleDBs under both names": {
			steps: func(inv *inventory) {
				inv.record("alpha", "SimpleDB", "a/one", true)
				inv.record("alpha", "SimpleDB", "a/two", false)
				inv.record("alpha", "SimpleDB", "b/one", true)
				inv.record("beta", "SimpleDB", "a/one", false)
				inv.record("beta", "WebApp", "a/one", true)
			},
			want: strings.Join([]string{
				"fleethub_managed_objects{alpha,SimpleDB} 3",
				"fleethub_managed_objects{beta,SimpleDB} 1",
				"fleethub_managed_objects{beta,WebApp} 1",
				"fleethub_ready_objects{alpha,SimpleDB} 2",
				"fleethub_ready_objects{beta,SimpleDB} 0",
				"fleethub_ready_objects{beta,WebApp} 1",
				"simpledb_managed_instances{alpha} 3",
				"simpledb_managed_instances{beta} 1",
				"simpledb_ready_instances{alpha} 2",
				"simpledb_ready_instances{beta} 0",
			}, "\n"),
		},
		"re-recording updates readiness, not the count": {
			steps: func(inv *inventory) {
				inv.record("alpha", "SimpleDB", "a/one", false)
				inv.record("alpha", "SimpleDB", "a/one", true)
			},
			want: "fleethub_managed_objects{alpha,SimpleDB} 1\nfleethub_ready_objects{alpha,SimpleDB} 1\n" +
				"simpledb_managed_instances{alpha} 1\nsimpledb_ready_instances{alpha} 1",
		},
		"a deleted object is forgotten, the member stays at zero": {
			steps: func(inv *inventory) {
				inv.record("alpha", "SimpleDB", "a/one", true)
				inv.forget("alpha", "SimpleDB", "a/one")
				inv.forget("gamma", "SimpleDB", "a/one")
			},
			want: "fleethub_managed_objects{alpha,SimpleDB} 0\nfleethub_ready_objects{alpha,SimpleDB} 0\n" +
				"simpledb_managed_instances{alpha} 0\nsimpledb_ready_instances{alpha} 0",
		},
		"a member that left disappears": {
			steps: func(inv *inventory) {
				inv.record("alpha", "SimpleDB", "a/one", true)
				inv.record("beta", "SimpleDB", "a/one", true)
				inv.forgetCluster("alpha")
			},
			want: "fleethub_managed_objects{beta,SimpleDB} 1\nfleethub_ready_objects{beta,SimpleDB} 1\n" +
				"simpledb_managed_instances{beta} 1\nsimpledb_ready_instances{beta} 1",
		},
		"a member engaged again after leaving starts from what it records": {
			steps: func(inv *inventory) {
				inv.record("alpha", "SimpleDB", "a/old", true)
				inv.forgetCluster("alpha")
				inv.record("alpha", "SimpleDB", "a/new", false)
			},
			want: "fleethub_managed_objects{alpha,SimpleDB} 1\nfleethub_ready_objects{alpha,SimpleDB} 0\n" +
				"simpledb_managed_instances{alpha} 1\nsimpledb_ready_instances{alpha} 0",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inv := newInventory()
			tc.steps(inv)
			if got := gather(t, inv); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// ForgetCluster drops the member's reconcile series too, and only its.
func TestForgetClusterDropsReconcileSeries(t *testing.T) {
	RecordReconcile("left", "WebApp", ResultSuccess, 0.1)
	RecordReconcile("stays", "WebApp", ResultSuccess, 0.1)
	ForgetCluster("left")
	t.Cleanup(func() { ForgetCluster("stays") })
	if n := testCount(reconciles, "left"); n != 0 {
		t.Errorf("series of the member that left: %d", n)
	}
	if n := testCount(reconciles, "stays"); n != 1 {
		t.Errorf("series of the member that stays: %d", n)
	}
}

// testCount counts c's series whose cluster label is cluster.
func testCount(c prometheus.Collector, cluster string) int {
	ch := make(chan prometheus.Metric, 100)
	c.Collect(ch)
	close(ch)
	n := 0
	for m := range ch {
		var out dto.Metric
		if err := m.Write(&out); err != nil {
			continue
		}
		for _, l := range out.GetLabel() {
			if l.GetName() == "cluster" && l.GetValue() == cluster {
				n++
			}
		}
	}
	return n
}
