package bench

import (
	"context"
	"errors"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Convergence is the section where every CR is created at once.
type Convergence struct {
	Members int `json:"members"`
	// CRs is how many were created, per kind and in all.
	CRs      map[string]int `json:"crs"`
	TotalCRs int            `json:"totalCRs"`
	// CreateSeconds is how long sending every create took.
	CreateSeconds Seconds `json:"createSeconds"`
	// AllReadySeconds is from the first create to the last CR seen Ready.
	AllReadySeconds Seconds `json:"allReadySeconds"`
	Ready           int     `json:"ready"`
	TimedOut        bool    `json:"timedOut,omitempty"`
	// TimeToReady is per CR, from its create call returning to a watch in
	// its member seeing Ready=True, per kind and for all.
	TimeToReady map[string]Latencies `json:"timeToReady"`
	All         Latencies            `json:"timeToReadyAll"`
	// HubCPUSeconds is the CPU the whole process (hub manager, plus the
	// load generator's clients and watches) used meanwhile.
	HubCPUSeconds Seconds `json:"hubCPUSeconds"`
	// ClustersCPUSeconds is what the simulated clusters' processes used
	// meanwhile (creating ReplicaSets and pods, binding volumes, simulating
	// nodes), and MachineBusyPercent how busy all cores were: on a small
	// machine they compete with the hub.
	ClustersCPUSeconds Seconds `json:"clustersCPUSeconds"`
	MachineBusyPercent float64 `json:"machineBusyPercent"`
	// Requests are the hub's requests to the members meanwhile, per verb,
	// and per verb and resource.
	Requests       map[string]int `json:"requestsByVerb"`
	RequestsDetail []string       `json:"requestsByVerbAndResource"`
}

// converge creates every CR of the section at once and waits until all are
// Ready, timing each CR with watches in the members.
func (f *fleet) converge(ctx context.Context, res *Results) error {
	if err := f.componentsRunning(ctx); err != nil {
		return err
	}
	if err := f.ensureNamespaces(ctx, nsApps, nsDNS); err != nil {
		return err
	}
	t := newTracker()
	wctx, stop := context.WithCancel(ctx)
	defer stop() // the watches and their caches go away with the section
	for _, m := range f.fw.Members {
		for _, w := range []watchSpec{
			{"WebApp", webAppsGVR, nsApps},
			{"SimpleDB", simpleDBsGVR, nsApps},
			{"DomainManager", domainManagersGVR, nsDNS},
		} {
			synced, err := watchReady(wctx, t, m.Config, m.Name, w.kind, w.gvr, w.ns, "", isReady)
			if err != nil {
				return err
			}
			if !synced() {
				return errors.New("watch did not sync")
			}
		}
	}

	items := convergenceItems(f.opts, f.fw.Options.Members)
	c := &Convergence{Members: f.opts.Members, CRs: map[string]int{}, TotalCRs: len(items), TimeToReady: map[string]Latencies{}}
	for _, it := range items {
		c.CRs[it.kind]++
	}
	res.Convergence = c
	f.progress("creating %d CRs at once (%v) with %d creators per member", len(items), c.CRs, f.opts.CreateWorkers)
	before, cpu0 := f.requestSnapshot(), f.hubCPU()
	busy0, clusters0 := MachineCPU(), f.clustersCPU()
	start := time.Now()
	created := make(chan error, 1)
	go func() { created <- f.createItems(ctx, items, f.opts.CreateWorkers, t) }()

	// finish records what was measured, also when the run is interrupted.
	finish := func() {
		c.HubCPUSeconds = Seconds((f.hubCPU() - cpu0).Seconds())
		c.ClustersCPUSeconds = Seconds((f.clustersCPU() - clusters0).Seconds())
		c.MachineBusyPercent = roundTo(MachineCPU().Since(busy0), 1)
		d := f.requestSnapshot().Since(before)
		c.Requests, c.RequestsDetail = d.ByVerb(), d.Detail()
		_, c.Ready = t.Counts()
		c.AllReadySeconds = Seconds(t.Span().Seconds())
		for kind := range c.CRs {
			c.TimeToReady[kind] = Summarise(t.Latencies(func(k string) bool { return strings.Contains(k, "/"+kind+"/") }))
		}
		c.All = Summarise(t.Latencies(nil))
	}

	deadline := time.After(f.opts.ConvergenceTimeout)
	report := time.NewTicker(15 * time.Second)
	defer report.Stop()
	creating := true
wait:
	for {
		select {
		case err := <-created:
			if err != nil {
				finish()
				return err
			}
			creating = false
			c.CreateSeconds = Seconds(time.Since(start).Seconds())
			f.progress("  all %d creates returned after %.1fs", len(items), c.CreateSeconds)
		case <-t.changed:
		case <-report.C:
			n, r := t.Counts()
			f.progress("  %d/%d Ready after %s", r, n, time.Since(start).Round(time.Second))
			continue
		case <-deadline:
			c.TimedOut = true
			break wait
		case <-ctx.Done():
			finish()
			return ctx.Err()
		}
		if n, r := t.Counts(); !creating && r >= n {
			break
		}
	}
	finish()
	if c.TimedOut {
		res.note("convergence: only %d of %d CRs were Ready after --convergence-timeout=%s", c.Ready, c.TotalCRs, f.opts.ConvergenceTimeout)
	}
	f.progress("  %d/%d CRs Ready %.1fs after the first create; per CR p50 %.1fs, p99 %.1fs", c.Ready, c.TotalCRs, c.AllReadySeconds, c.All.P50, c.All.P99)
	return nil
}

type watchSpec struct {
	kind string
	gvr  schema.GroupVersionResource
	ns   string
}
