package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fleethub/fleethub/e2e/backend"
	"github.com/fleethub/fleethub/pkg/membersecret"
)

// Engagement is how fast the hub takes a member on.
type Engagement struct {
	// Members are the first registrations, all at once, of members holding
	// one WebApp each.
	Members []MemberEngagement `json:"members"`
	// Loaded is the same member registered again at the end of the run,
	// when it holds its share of every section's CRs and of the unrelated
	// objects.
	Loaded *MemberEngagement `json:"loaded,omitempty"`
}

// MemberEngagement times one registration from the creation of the
// kubeconfig Secret on the hub.
type MemberEngagement struct {
	Member string `json:"member"`
	// ViaProxy is set for the member reached through a TCP proxy.
	ViaProxy bool `json:"viaProxy,omitempty"`
	// Engaged is when the provider had a synced cache and handed the member
	// to the controllers.
	Engaged Seconds `json:"engagedSeconds"`
	// FirstReconcile is when fleethub_reconcile_total first counted a
	// successful reconcile in the member.
	FirstReconcile Seconds `json:"firstReconcileSeconds"`
	// AllReconciled is when the member's successful reconciles reached its
	// number of WebApps and SimpleDBs (each reconciled at least once), for
	// the loaded member. DomainManagers are not in fleethub_reconcile_total.
	AllReconciled Seconds `json:"allReconciledSeconds,omitempty"`
	CRs           int     `json:"crs,omitempty"`
	// Writes are the write requests the hub sent the member from
	// registration until AllReconciled (converged CRs: expected none).
	Writes     *int     `json:"writes,omitempty"`
	WriteList  []string `json:"writeList,omitempty"`
	TimedOut   bool     `json:"timedOut,omitempty"`
	StateAfter string   `json:"stateAfter,omitempty"`
}

// engageMembers registers every member at once, each holding one WebApp,
// and times each to engagement and to its first reconcile.
func (f *fleet) engageMembers(ctx context.Context, res *Results) error {
	if err := f.ensureNamespaces(ctx, nsProbe); err != nil {
		return err
	}
	members := f.fw.Options.Members
	var items []item
	for _, m := range members {
		items = append(items, item{m, "WebApp", webApp(nsProbe, "probe")})
	}
	if err := f.createItems(ctx, items, 1, nil); err != nil {
		return err
	}
	// Kubeconfigs (token requests) are made before the clock starts.
	kcs := map[string][]byte{}
	for i, m := range members {
		kc, err := f.memberKubeconfig(ctx, m, f.viaProxy(i))
		if err != nil {
			return fmt.Errorf("kubeconfig for %s: %w", m, err)
		}
		kcs[m] = kc
	}
	out := make([]MemberEngagement, len(members))
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = f.timeEngagement(ctx, m, kcs[m], 0)
			out[i].ViaProxy = f.viaProxy(i)
		}()
	}
	wg.Wait()
	res.Engagement = &Engagement{Members: out}
	for i, e := range out {
		f.progress("  %s%s: engaged after %.2fs, first reconcile after %.2fs", e.Member, proxyNote(e.ViaProxy), e.Engaged, e.FirstReconcile)
		if errs[i] != nil {
			return errs[i]
		}
	}
	return f.sampleBaseline(ctx)
}

func proxyNote(via bool) string {
	if via {
		return " (through a proxy)"
	}
	return ""
}

// viaProxy says whether the i-th member is registered through a proxy: the
// last one, which the latency section cuts off (only with 2+ members).
func (f *fleet) viaProxy(i int) bool {
	return f.opts.Members > 1 && i == f.opts.Members-1
}

// timeEngagement creates the member's Secret and polls (every 10ms) the
// provider and the hub's metrics. With crs > 0 it also waits until the
// member's reconcile count reaches crs and counts the writes sent meanwhile.
func (f *fleet) timeEngagement(ctx context.Context, member string, kc []byte, crs int) (MemberEngagement, error) {
	e := MemberEngagement{Member: member, CRs: crs}
	before, n0 := f.requestSnapshot(), f.successfulReconciles(member)
	start := time.Now()
	if err := f.register(ctx, member, kc); err != nil {
		return e, err
	}
	var engaged, first, all time.Duration
	err := backend.Poll(ctx, 3*time.Minute, f.pollEvery(10*time.Millisecond), func() error {
		now := time.Since(start)
		if engaged == 0 && f.engaged(ctx, member) {
			engaged = now
		}
		n := f.successfulReconciles(member) - n0
		if first == 0 && n > 0 {
			first = now
		}
		if crs > 0 && all == 0 && n >= float64(crs) {
			all = now
		}
		if engaged == 0 || first == 0 || (crs > 0 && all == 0) {
			return fmt.Errorf("%s: engaged after %s, first reconcile after %s, %d reconciles", member, engaged, first, int(n))
		}
		return nil
	})
	e.Engaged, e.FirstReconcile, e.AllReconciled = Seconds(engaged.Seconds()), Seconds(first.Seconds()), Seconds(all.Seconds())
	if crs > 0 {
		d := f.requestSnapshot().Since(before)
		only := RequestSnapshot{member: d[member]}
		n := only.WriteCount()
		e.Writes, e.WriteList = &n, only.Writes()
	}
	if st, ok := f.memberState(ctx, member); ok {
		e.StateAfter = string(st)
	}
	if err != nil {
		if ctx.Err() != nil {
			return e, ctx.Err()
		}
		e.TimedOut = true
	}
	return e, nil
}

// waitState polls until the provider reports the member in (or, with not,
// out of) state, and returns how long that took.
func (f *fleet) waitState(ctx context.Context, member string, state membersecret.State, not bool, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	err := backend.Poll(ctx, timeout, f.pollEvery(20*time.Millisecond), func() error {
		st, _ := f.memberState(ctx, member)
		if (st == state) != not {
			return nil
		}
		return fmt.Errorf("%s is %s", member, st)
	})
	return time.Since(start), err
}
