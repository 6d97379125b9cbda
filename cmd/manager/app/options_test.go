package app

import (
	"testing"
	"time"

	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/pkg/config"
	"github.com/fleethub/fleethub/pkg/fairqueue"
)

func TestControllersHaveDeadlinesAndFairQueues(t *testing.T) {
	for _, tc := range []struct {
		set, want time.Duration
	}{
		{set: 20 * time.Second, want: 20 * time.Second},
		{set: 0, want: config.DefaultReconcileTimeout}, // configs built in code
	} {
		o := controllerOptions(config.Config{MaxConcurrentReconciles: 4, Fairness: config.FairnessConfig{ReconcileTimeout: tc.set}}, new(bool))
		if o.ReconciliationTimeout != tc.want {
			t.Errorf("reconcile-timeout %s: ReconciliationTimeout = %s, want %s", tc.set, o.ReconciliationTimeout, tc.want)
		}
		if o.UsePriorityQueue == nil || *o.UsePriorityQueue {
			t.Error("the priority queue must stay off")
		}
		if o.NewQueue == nil {
			t.Fatal("no NewQueue: the controllers would share one FIFO across members")
		}
		q := o.NewQueue("test", nil)
		if _, ok := q.(*fairqueue.Queue[mcreconcile.Request]); !ok {
			t.Fatalf("NewQueue built a %T, want the fair queue", q)
		}
		q.ShutDown()
	}
}
