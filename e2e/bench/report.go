package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the results to path, creating its directory.
func (r *Results) WriteJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

// PrintTable writes the results as a table for people.
func (r *Results) PrintTable(w io.Writer) error {
	m := r.Machine
	hubs := "hub in this process"
	if r.Options.processes() {
		hubs = fmt.Sprintf("%d sharded hub replicas (processes)", r.Options.Replicas)
	}
	fmt.Fprintf(w, "\nfleethub benchmark — %s backend, %d members, %s, resync interval %s, %.0fs in all\n",
		r.Backend, r.Options.Members, hubs, r.Options.ResyncInterval, float64(r.Duration))
	fmt.Fprintf(w, "machine: %s, %d cores, %s GiB, %s, kernel %s; load average %s at start, %s at end\n",
		m.CPUModel, m.Cores, m.MemoryGiB, m.GoVersion, m.Kernel, m.LoadAtStart, m.LoadAtEnd)
	fmt.Fprintf(w, "versions: %s\n\n", joinMap(r.Versions))

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(section, figure, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", section, figure, fmt.Sprintf(format, args...))
	}
	fmt.Fprintln(tw, "SECTION\tFIGURE\tVALUE")

	if sh := r.Sharding; sh != nil {
		s := "0 sharding"
		row(s, "members by replica after engagement", "%s", joinLists(sh.AfterEngagement))
		row(s, "members by replica at the end", "%s", joinLists(sh.AtEnd))
	}
	if c := r.Convergence; c != nil {
		s := "1 convergence"
		row(s, "CRs created at once", "%d (%s) in %d members", c.TotalCRs, joinInts(c.CRs), c.Members)
		row(s, "all creates sent after", "%.1fs", c.CreateSeconds)
		row(s, "all Ready after (first create → last Ready)", "%.1fs (%d/%d Ready%s)", c.AllReadySeconds, c.Ready, c.TotalCRs, timedOut(c.TimedOut))
		row(s, "per CR create → Ready, all: p50 / p99 / max", "%.1fs / %.1fs / %.1fs", c.All.P50, c.All.P99, c.All.Max)
		for _, k := range sortedKeys(c.TimeToReady) {
			l := c.TimeToReady[k]
			row(s, "  "+k+": p50 / p99 / max", "%.1fs / %.1fs / %.1fs (n=%d)", l.P50, l.P99, l.Max, l.Count)
		}
		row(s, "hub requests to members meanwhile", "%s", verbs(c.Requests))
		if len(c.RequestsDetail) > 0 {
			row(s, "  most requested", "%s", strings.Join(c.RequestsDetail[:min(len(c.RequestsDetail), 6)], ", "))
		}
		row(s, "CPU meanwhile: hub process / simulated clusters / machine busy", "%.1fs / %.1fs / %.0f%% of all cores", c.HubCPUSeconds, c.ClustersCPUSeconds, c.MachineBusyPercent)
	}
	if st := r.Steady; st != nil {
		s := "2 steady state"
		row(s, "window", "%d resync intervals of %.0fs (%.0fs)", st.Intervals, st.ResyncInterval, st.WindowSeconds)
		row(s, "reconciles in the window", "%d (%.0f per interval: %s)", st.Reconciles, float64(st.Reconciles)/float64(st.Intervals), joinInts(st.ReconcilesByController))
		row(s, "hub requests to members, by verb", "%s", verbs(st.Requests))
		row(s, "  per interval (all verbs)", "%.1f", st.RequestsPerInterval)
		if len(st.ReadRequests) > 0 {
			row(s, "  reads", "%s", strings.Join(st.ReadRequests, ", "))
		}
		row(s, "write requests", "%d%s", st.Writes, list(st.WriteList))
		for _, r := range sortedKeys(st.RequestsByReplica) {
			row(s, "  requests of replica "+r+" by member", "%s", joinInts(st.RequestsByReplica[r]))
		}
		row(s, "hub CPU", "%.2fs (%.2f%% of one core)", st.HubCPUSeconds, st.HubCPUPercent)
		row(s, "  meanwhile: simulated clusters' CPU / machine busy", "%.1fs / %.0f%% of all cores", st.ClustersCPUSeconds, st.MachineBusyPercent)
	}
	if mem := r.Memory; mem != nil {
		s := "3 memory"
		a := mem.AfterConvergence
		row(s, "after convergence: RSS / live heap (median of 5)", "%.1f MiB / %.1f MiB (ranges %.0f–%.0f / %.0f–%.0f MiB; %d goroutines)",
			a.RSSMiB, a.HeapLiveMiB, a.Min.RSSMiB, a.Max.RSSMiB, a.Min.HeapLiveMiB, a.Max.HeapLiveMiB, a.Goroutines)
		if a.Cached != nil {
			row(s, "  hub cache / members hold", "%s / %s", joinInts(a.Cached), joinInts(a.MemberObjects))
		}
		row(s, "  managed objects (CRs + labelled children)", "%d (%s)", a.ManagedObjectsTotal, joinInts(a.ManagedObjects))
		row(s, "  live heap per managed object / marginal", "%.2f KiB / %.2f KiB", a.HeapPerObjectKiB, a.MarginalKiB)
		for _, rs := range a.Replicas {
			row(s, "  replica "+rs.Replica+": members", "%s", strings.Join(rs.Members, ", "))
			row(s, "    managed objects", "%d (%s)", rs.ManagedObjects, joinInts(rs.Objects))
			row(s, "    live heap / heap in use / RSS (median of 5)", "%.1f / %.1f / %.1f MiB (live %.0f–%.0f; %d goroutines)",
				rs.Memory.HeapLiveMiB, rs.Memory.HeapInuseMiB, rs.Memory.RSSMiB, rs.Min.HeapLiveMiB, rs.Max.HeapLiveMiB, rs.Memory.Goroutines)
			row(s, "    live heap per managed object / marginal", "%.2f KiB / %.2f KiB", rs.HeapPerObjectKiB, rs.MarginalKiB)
		}
		if u := mem.AfterUnrelated; u != nil {
			row(s, "unrelated objects added", "%s in %.0fs", joinInts(mem.Unrelated), mem.UnrelatedSeconds)
			row(s, "with them: RSS / live heap (median of 5)", "%.1f MiB / %.1f MiB (%+.1f / %+.1f MiB; ranges %.0f–%.0f / %.0f–%.0f MiB)",
				u.RSSMiB, u.HeapLiveMiB, u.RSSMiB-a.RSSMiB, u.HeapLiveMiB-a.HeapLiveMiB, u.Min.RSSMiB, u.Max.RSSMiB, u.Min.HeapLiveMiB, u.Max.HeapLiveMiB)
			row(s, "  hub cache / members hold", "%s / %s", joinInts(u.Cached), joinInts(u.MemberObjects))
			row(s, "  member apiserver+etcd RSS", "%s MiB (was %s)", joinFloats(u.MemberControlPlaneMiB), joinFloats(a.MemberControlPlaneMiB))
			row(s, "  hub requests in one interval", "%s; %d writes", verbs(mem.SteadyAfterUnrelated), mem.WritesAfterUnrelated)
		}
	}
	if e := r.Engagement; e != nil {
		s := "4 engagement"
		for _, me := range e.Members {
			row(s, "Secret → engaged / first reconcile: "+me.Member+proxyNote(me.ViaProxy), "%.2fs / %.2fs", me.Engaged, me.FirstReconcile)
		}
		if l := e.Loaded; l != nil {
			row(s, "re-registered loaded "+l.Member+": engaged / first / all reconciled", "%.2fs / %.2fs / %.2fs (%d CRs%s)", l.Engaged, l.FirstReconcile, l.AllReconciled, l.CRs, timedOut(l.TimedOut))
			row(s, "  writes while reconciling them all", "%d%s", deref(l.Writes), list(l.WriteList))
		}
	}
	if l := r.Latency; l != nil {
		s := "4 engagement"
		p := l.AllHealthy
		row(s, "all healthy: create → Deployment p50 / p99", "%.3fs / %.3fs (n=%d%s)", p.CreateToDeployment.P50, p.CreateToDeployment.P99, p.CreateToDeployment.Count, timedOut(p.TimedOut))
		row(s, "  WebApp reconcile duration p50 / p99", "%.4fs / %.4fs (%d reconciles)", p.ReconcileP50, p.ReconcileP99, p.Reconciles)
		if u := l.OneUnreachable; u != nil {
			row(s, l.UnreachableMember+" cut: hub noticed after", "%.1fs (state %s); Ready again %.1fs after restore", l.NoticedSeconds, l.StateDuringCut, l.RecoveredSeconds)
			row(s, "one unreachable: create → Deployment p50 / p99", "%.3fs / %.3fs (n=%d%s)", u.CreateToDeployment.P50, u.CreateToDeployment.P99, u.CreateToDeployment.Count, timedOut(u.TimedOut))
			row(s, "  WebApp reconcile duration p50 / p99", "%.4fs / %.4fs (%d reconciles)", u.ReconcileP50, u.ReconcileP99, u.Reconciles)
		}
	}
	if fr := r.Fairness; fr != nil {
		s := "6 fairness"
		i, b := fr.Idle, fr.Busy
		row(s, fr.QuietMember+" create → Deployment, "+fr.BusyMember+" idle: p50 / p99", "%.3fs / %.3fs (n=%d%s)", i.CreateToDeployment.P50, i.CreateToDeployment.P99, i.CreateToDeployment.Count, timedOut(i.TimedOut))
		row(s, fr.QuietMember+" create → Deployment, "+fr.BusyMember+" converging: p50 / p99", "%.3fs / %.3fs (n=%d%s)", b.CreateToDeployment.P50, b.CreateToDeployment.P99, b.CreateToDeployment.Count, timedOut(b.TimedOut))
		row(s, "  "+fr.BusyMember+"'s backlog with Deployments at start / end of that phase", "%d / %d of %d (creates sent in %.1fs)", fr.BacklogDoneAtStart, fr.BacklogDoneAtEnd, fr.Backlog, fr.BacklogSendSeconds)
	}
	if d := r.DNS; d != nil {
		s := "5 DNS"
		row(s, "DomainManagers / records in zone "+d.Zone, "%d / %d (%d Ready)", d.DomainManagers, d.RecordsInZone, d.Ready)
		row(s, "API calls to converge", "%d (client limit %.0f/s)", d.ConvergenceCalls, d.RequestsPerSecond)
		row(s, "steady: calls / list pages / writes per interval", "%.1f / %.1f / %.1f", d.CallsPerInterval, d.ListPagesPerInterval, d.WritesPerInterval)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "stopped early: %s\n", r.Error)
	}
	return nil
}

func timedOut(b bool) string {
	if b {
		return ", TIMED OUT"
	}
	return ""
}

func list(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return " (" + strings.Join(items, ", ") + ")"
}

// verbs formats requests per verb in Verbs order, zeros included for writes.
func verbs(m map[string]int) string {
	var parts []string
	for _, v := range Verbs {
		if m[v] != 0 || writeVerbs[v] && v != "deletecollection" {
			parts = append(parts, fmt.Sprintf("%s %d", v, m[v]))
		}
	}
	for _, k := range sortedKeys(m) {
		known := false
		for _, v := range Verbs {
			known = known || v == k
		}
		if !known {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func joinInts(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func joinLists(m map[string][]string) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s: %s", k, strings.Join(m[k], " ")))
	}
	return strings.Join(parts, "; ")
}

func joinFloats(m map[string]float64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func joinMap(m map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+" "+m[k])
	}
	return strings.Join(parts, ", ")
}
