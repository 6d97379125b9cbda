package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// nsFairness holds the fairness section's WebApps in every member.
const nsFairness = "bench-fairness"

// Fairness is one member's create → Deployment latency with another member
// idle, and again while that other member converges a backlog of new
// WebApps: with fair work queues the two are close.
type Fairness struct {
	BusyMember  string `json:"busyMember"`
	QuietMember string `json:"quietMember"`
	Backlog     int    `json:"backlog"`
	// Idle and Busy are the quiet member's latency phases (LatencyWebApps
	// WebApps, LatencySpacing apart) with the busy member idle and while it
	// works through its backlog.
	Idle LatencyPhase `json:"busyMemberIdle"`
	Busy LatencyPhase `json:"busyMemberConverging"`
	// BacklogDoneAtStart/AtEnd count the busy member's backlog WebApps that
	// had their Deployment when the busy phase began and ended: fewer than
	// Backlog at the end means the quiet member was served meanwhile, not
	// after the backlog.
	BacklogDoneAtStart int     `json:"backlogDoneAtStart"`
	BacklogDoneAtEnd   int     `json:"backlogDoneAtEnd"`
	BacklogCreated     int     `json:"backlogCreated"`
	BacklogSendSeconds Seconds `json:"backlogSendSeconds"`
}

// fairness measures the quiet member with the busy member idle, then starts
// the busy member's backlog and measures the quiet member again while it
// drains. It runs last: the backlog stays in place.
func (f *fleet) fairness(ctx context.Context, res *Results) error {
	members := f.fw.Options.Members
	if f.opts.FairnessBacklog == 0 || f.opts.LatencyWebApps == 0 || len(members) < 2 {
		return nil
	}
	busy, quiet := members[0], members[1]
	fr := &Fairness{BusyMember: busy, QuietMember: quiet, Backlog: f.opts.FairnessBacklog}
	res.Fairness = fr
	if err := f.ensureNamespaces(ctx, nsFairness); err != nil {
		return err
	}
	f.progress("%s idle: %d WebApps in %s, %s apart", busy, f.opts.LatencyWebApps, quiet, f.opts.LatencySpacing)
	var err error
	if fr.Idle, err = f.latencyPhase(ctx, nsFairness+"-idle", []string{quiet}); err != nil {
		return err
	}
	f.progress("  create → Deployment p50 %.3fs, p99 %.3fs", fr.Idle.CreateToDeployment.P50, fr.Idle.CreateToDeployment.P99)

	// The backlog: every create at once from CreateWorkers creators. The
	// quiet member's phase starts as soon as the first tenth is in.
	items := make([]item, fr.Backlog)
	for i := range items {
		items[i] = item{busy, "WebApp", webApp(nsFairness, fmt.Sprintf("backlog-%04d", i))}
	}
	t := newTracker()
	sendStart := time.Now()
	var wg sync.WaitGroup
	var sendErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		sendErr = f.createItems(ctx, items, f.opts.CreateWorkers, t)
		fr.BacklogSendSeconds = Seconds(time.Since(sendStart).Seconds())
	}()
	for {
		if n, _ := t.Counts(); n >= fr.Backlog/10 {
			break
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	if fr.BacklogDoneAtStart, err = f.deployments(ctx, busy, nsFairness); err != nil {
		return err
	}
	f.progress("%s converging %d new WebApps: %d WebApps in %s, %s apart", busy, fr.Backlog, f.opts.LatencyWebApps, quiet, f.opts.LatencySpacing)
	if fr.Busy, err = f.latencyPhase(ctx, nsFairness+"-busy", []string{quiet}); err != nil {
		return err
	}
	if fr.BacklogDoneAtEnd, err = f.deployments(ctx, busy, nsFairness); err != nil {
		return err
	}
	wg.Wait()
	fr.BacklogCreated, _ = t.Counts()
	f.progress("  create → Deployment p50 %.3fs, p99 %.3fs; %s had %d of %d Deployments at the start, %d at the end",
		fr.Busy.CreateToDeployment.P50, fr.Busy.CreateToDeployment.P99, busy, fr.BacklogDoneAtStart, fr.Backlog, fr.BacklogDoneAtEnd)
	return sendErr
}

// deployments counts the Deployments in ns of member.
func (f *fleet) deployments(ctx context.Context, member, ns string) (int, error) {
	var l appsv1.DeploymentList
	if err := f.clients[member].List(ctx, &l, client.InNamespace(ns)); err != nil {
		return 0, fmt.Errorf("%s: listing Deployments in %s: %w", member, ns, err)
	}
	return len(l.Items), nil
}
