package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/membersecret"
)

// Latency compares reconcile latency in the healthy members with every
// member reachable and with one member cut off.
type Latency struct {
	AllHealthy LatencyPhase `json:"allHealthy"`
	// OneUnreachable is measured once the hub has noticed the cut member.
	OneUnreachable *LatencyPhase `json:"oneUnreachable,omitempty"`
	// UnreachableMember is the member cut off (its proxy closed).
	UnreachableMember string `json:"unreachableMember,omitempty"`
	// NoticedSeconds is from the cut to the hub reporting the member not Ready.
	NoticedSeconds Seconds `json:"noticedSeconds,omitempty"`
	StateDuringCut string  `json:"stateDuringCut,omitempty"`
	// RecoveredSeconds is from restoring the proxy to the member being Ready again.
	RecoveredSeconds Seconds `json:"recoveredSeconds,omitempty"`
}

// LatencyPhase is one round of WebApps created one after the other in each
// healthy member.
type LatencyPhase struct {
	Members []string `json:"members"`
	Created int      `json:"created"`
	// CreateToDeployment is per WebApp, from its create call returning to a
	// watch in the member seeing its Deployment.
	CreateToDeployment Latencies `json:"createToDeployment"`
	// ReconcileP50/P99 are estimated from the hub's
	// fleethub_reconcile_duration_seconds{kind="WebApp"} histogram in the
	// healthy members over the phase (resyncs of converged WebApps included).
	ReconcileP50 Seconds `json:"reconcileP50Seconds"`
	ReconcileP99 Seconds `json:"reconcileP99Seconds"`
	Reconciles   uint64  `json:"reconciles"`
	TimedOut     bool    `json:"timedOut,omitempty"`
}

// latency runs the all-healthy phase, cuts the last member off, runs the
// phase again in the others, and restores the member.
func (f *fleet) latency(ctx context.Context, res *Results) error {
	if f.opts.LatencyWebApps == 0 {
		return nil
	}
	members := f.fw.Options.Members
	healthy := members
	cut := ""
	if f.opts.Members > 1 {
		cut = members[len(members)-1]
		healthy = members[:len(members)-1]
	}
	l := &Latency{UnreachableMember: cut}
	res.Latency = l
	f.progress("all members healthy: %d WebApps in each of %s, %s apart", f.opts.LatencyWebApps, strings.Join(healthy, ", "), f.opts.LatencySpacing)
	var err error
	if l.AllHealthy, err = f.latencyPhase(ctx, nsLatency+"-healthy", healthy); err != nil {
		return err
	}
	f.progress("  create → Deployment p50 %.3fs, p99 %.3fs; reconcile p50 %.3fs, p99 %.3fs",
		l.AllHealthy.CreateToDeployment.P50, l.AllHealthy.CreateToDeployment.P99, l.AllHealthy.ReconcileP50, l.AllHealthy.ReconcileP99)
	if cut == "" {
		return nil
	}

	p := f.proxies[cut]
	f.progress("cutting %s off (closing its proxy)", cut)
	p.Cut()
	noticed, err := f.waitState(ctx, cut, membersecret.StateReady, true, 2*f.opts.ProbeInterval+time.Minute)
	if err != nil {
		return fmt.Errorf("the hub did not notice %s was cut off: %w", cut, err)
	}
	l.NoticedSeconds = Seconds(noticed.Seconds())
	st, _ := f.memberState(ctx, cut)
	l.StateDuringCut = string(st)
	f.progress("  the hub reports %s %s after %.1fs", cut, st, noticed.Seconds())
	phase, err := f.latencyPhase(ctx, nsLatency+"-cut", healthy)
	if err != nil {
		return err
	}
	l.OneUnreachable = &phase
	f.progress("  create → Deployment p50 %.3fs, p99 %.3fs; reconcile p50 %.3fs, p99 %.3fs",
		phase.CreateToDeployment.P50, phase.CreateToDeployment.P99, phase.ReconcileP50, phase.ReconcileP99)

	f.progress("restoring %s", cut)
	if err := p.Restore(); err != nil {
		return fmt.Errorf("restoring the proxy of %s: %w", cut, err)
	}
	back, err := f.waitState(ctx, cut, membersecret.StateReady, false, 5*time.Minute)
	if err != nil {
		return fmt.Errorf("%s did not come back: %w", cut, err)
	}
	l.RecoveredSeconds = Seconds(back.Seconds())
	f.progress("  %s Ready again after %.1fs", cut, back.Seconds())
	return nil
}

// latencyPhase creates LatencyWebApps WebApps, LatencySpacing apart, in each
// of members (in parallel across members) and times each to its Deployment.
func (f *fleet) latencyPhase(ctx context.Context, ns string, members []string) (LatencyPhase, error) {
	ph := LatencyPhase{Members: members}
	for _, m := range members {
		if err := createIfMissing(ctx, f.clients[m], namespace(ns)); err != nil {
			return ph, err
		}
	}
	t := newTracker()
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	selector := v1alpha1.LabelManagedBy + "=" + v1alpha1.ManagedByValue
	for _, m := range members {
		synced, err := watchReady(wctx, t, f.fw.Member(m).Config, m, "WebApp", deploymentsGVR, ns, selector, exists)
		if err != nil {
			return ph, err
		}
		if !synced() {
			return ph, ctx.Err()
		}
	}
	hist := func() Histogram {
		var h Histogram
		metrics := f.hubMetrics()
		for _, m := range members {
			h = h.Add(metrics.Histogram("fleethub_reconcile_duration_seconds", map[string]string{"cluster": m, "kind": "WebApp"}))
		}
		return h
	}
	h0 := hist()
	var wg sync.WaitGroup
	errs := make([]error, len(members))
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range f.opts.LatencyWebApps {
				app := webApp(ns, fmt.Sprintf("lat-%03d", j))
				if err := f.clients[m].Create(ctx, app); err != nil {
					errs[i] = fmt.Errorf("%s: creating WebApp %s/%s: %w", m, ns, app.Name, err)
					return
				}
				// The Deployment has the WebApp's name.
				t.Created(trackKey(m, "WebApp", ns, app.Name), time.Now())
				if err := sleep(ctx, f.opts.LatencySpacing); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return ph, err
		}
	}
	timeout := time.After(2 * time.Minute)
wait:
	for {
		if n, r := t.Counts(); r >= n {
			break
		}
		select {
		case <-t.changed:
		case <-time.After(time.Second):
		case <-timeout:
			ph.TimedOut = true
			break wait
		case <-ctx.Done():
			return ph, ctx.Err()
		}
	}
	h := hist().Sub(h0)
	ph.Created, _ = t.Counts()
	ph.CreateToDeployment = Summarise(t.Latencies(nil))
	ph.ReconcileP50, ph.ReconcileP99 = Seconds(roundTo(h.Quantile(0.5), 4)), Seconds(roundTo(h.Quantile(0.99), 4))
	ph.Reconciles = h.Count
	return ph, nil
}
