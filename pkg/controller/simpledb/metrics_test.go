package simpledb

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/multicluster-runtime/pkg/multicluster"
)

// gather renders the inventory's series as "name{cluster} value" lines.
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
			lines = append(lines, fmt.Sprintf("%s{%s} %s", f.GetName(), m.GetLabel()[0].GetValue(),
				strconv.FormatFloat(m.GetGauge().GetValue(), 'f', -1, 64)))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func nn(ns, name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }

func TestInventory(t *testing.T) {
	tests := map[string]struct {
		steps func(inv *inventory)
		want  string
	}{
		"nothing reconciled": {
			steps: func(inv *inventory) { inv.engaged("alpha") },
			want:  "",
		},
		"counts per cluster": {
			steps: func(inv *inventory) {
				inv.observe("alpha", nn("a", "one"), true)
				inv.observe("alpha", nn("a", "two"), false)
				inv.observe("alpha", nn("b", "one"), true)
				inv.observe("beta", nn("a", "one"), false)
			},
			want: "simpledb_managed_instances{alpha} 3\nsimpledb_managed_instances{beta} 1\nsimpledb_ready_instances{alpha} 2\nsimpledb_ready_instances{beta} 0",
		},
		"re-observing updates readiness, not the count": {
			steps: func(inv *inventory) {
				inv.observe("alpha", nn("a", "one"), false)
				inv.observe("alpha", nn("a", "one"), true)
			},
			want: "simpledb_managed_instances{alpha} 1\nsimpledb_ready_instances{alpha} 1",
		},
		"deleted SimpleDB is forgotten, the member stays at zero": {
			steps: func(inv *inventory) {
				inv.observe("alpha", nn("a", "one"), true)
				inv.forget("alpha", nn("a", "one"))
				inv.forget("gamma", nn("a", "one"))
			},
			want: "simpledb_managed_instances{alpha} 0\nsimpledb_ready_instances{alpha} 0",
		},
		"disengaged member disappears": {
			steps: func(inv *inventory) {
				e := inv.engaged("alpha")
				inv.observe("alpha", nn("a", "one"), true)
				inv.observe("beta", nn("a", "one"), true)
				inv.disengaged("alpha", e)
			},
			want: "simpledb_managed_instances{beta} 1\nsimpledb_ready_instances{beta} 1",
		},
		"end of an old engagement does not wipe a newer one": {
			steps: func(inv *inventory) {
				old := inv.engaged("alpha")
				inv.engaged("alpha")
				inv.observe("alpha", nn("a", "one"), true)
				inv.disengaged("alpha", old)
			},
			want: "simpledb_managed_instances{alpha} 1\nsimpledb_ready_instances{alpha} 1",
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

func TestNilInventoryRecordsNothing(t *testing.T) {
	var inv *inventory
	inv.observe("alpha", nn("a", "b"), true)
	inv.forget("alpha", nn("a", "b"))
}

func TestMetricsRunnableFollowsEngagement(t *testing.T) {
	inv := newInventory()
	r := metricsRunnable{inv: inv}
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.Engage(ctx, multicluster.ClusterName("alpha"), nil); err != nil {
		t.Fatal(err)
	}
	inv.observe("alpha", nn("a", "one"), true)
	if got := gather(t, inv); !strings.Contains(got, "simpledb_managed_instances{alpha} 1") {
		t.Fatalf("got %s", got)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for gather(t, inv) != "" {
		if time.Now().After(deadline) {
			t.Fatalf("series of a disengaged member remain: %s", gather(t, inv))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
