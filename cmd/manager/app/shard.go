package app

import (
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/pkg/shard"
	"github.com/fleethub/fleethub/providers/kubeconfig"
)

// addShardRunnables publishes this replica's shard metrics and, with
// sharding, keeps the DNS request budget divided by the live replicas: the
// fleet shares one DNS account, whatever the number of replicas.
func addShardRunnables(mgr manager.Manager, replica string, ring *shard.Ring, provider *kubeconfig.Provider, dnsProvider dns.Provider) error {
	peers := func() int { return 1 }
	if ring != nil {
		peers = ring.Peers
	}
	served := func() int {
		n := 0
		for _, ok := range provider.Members() {
			if ok {
				n++
			}
		}
		return n
	}
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		shard.Publish(replica, peers, served)
		defer shard.Unpublish(replica)
		sharer, ok := dnsProvider.(dns.BudgetSharer)
		if !ok || ring == nil {
			<-ctx.Done()
			return nil
		}
		last := 0
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			if n := max(ring.Peers(), 1); n != last {
				sharer.ShareBudget(n)
				last = n
			}
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
	}))
}
