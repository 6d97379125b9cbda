package bench

import (
	"context"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Steady is what a converged fleet costs over whole resync intervals.
type Steady struct {
	ResyncInterval Seconds `json:"resyncIntervalSeconds"`
	Intervals      int     `json:"intervals"`
	WindowSeconds  Seconds `json:"windowSeconds"`
	// Reconciles is controller_runtime_reconcile_total's increase (every
	// controller: the three kinds, the member Secrets, the DNS credentials):
	// the resyncs that happened in the window.
	Reconciles             int            `json:"reconciles"`
	ReconcilesByController map[string]int `json:"reconcilesByController"`
	// MachineBusyPercent is how busy all cores were in the window (every
	// process: the simulated clusters, the hub, anything else running).
	MachineBusyPercent float64 `json:"machineBusyPercent"`
	// ClustersCPUSeconds is the CPU the simulated clusters' processes
	// (etcd, kube-apiserver, controller manager, scheduler, kwok) used.
	ClustersCPUSeconds Seconds `json:"clustersCPUSeconds"`
	// Requests are the hub's requests to all members in the window, per
	// verb, per member and verb, and per interval.
	Requests            map[string]int            `json:"requestsByVerb"`
	RequestsByMember    map[string]map[string]int `json:"requestsByMemberAndVerb"`
	RequestsPerInterval float64                   `json:"requestsPerInterval"`
	ReadRequests        []string                  `json:"readRequests,omitempty"`
	Writes              int                       `json:"writes"`
	WriteList           []string                  `json:"writeList,omitempty"`
	// RequestsByReplica are, with replica processes, each replica's
	// requests per member in the window (all verbs).
	RequestsByReplica map[string]map[string]int `json:"requestsByReplicaAndMember,omitempty"`
	// HubCPUSeconds is the process's CPU time in the window (the load
	// generator is idle; the fake DNS API answers in this process too).
	HubCPUSeconds Seconds `json:"hubCPUSeconds"`
	// HubCPUPercent is that as a share of one core.
	HubCPUPercent float64 `json:"hubCPUPercentOfOneCore"`
	// Memory is the process's memory at the end of the window.
	Memory Memory `json:"memory"`
}

// DNS is what DomainManagers cost at the DNS provider in the same window.
type DNS struct {
	DomainManagers int    `json:"domainManagers"`
	Zone           string `json:"zone"`
	RecordsInZone  int    `json:"recordsInZone"`
	// Ready is how many DomainManagers reported their record synced.
	Ready int `json:"ready"`
	// ConvergenceCalls are the API calls until every record existed.
	ConvergenceCalls int `json:"convergenceCalls"`
	// Per interval of the steady window: all calls, record-list pages, and
	// writes (POST, PUT, PATCH, DELETE).
	CallsPerInterval     float64        `json:"callsPerInterval"`
	ListPagesPerInterval float64        `json:"listPagesPerInterval"`
	WritesPerInterval    float64        `json:"writesPerInterval"`
	CallsInWindow        map[string]int `json:"callsInWindow"`
	RequestsPerSecond    float64        `json:"clientRequestsPerSecond"`
}

// steady lets the fleet settle for one resync interval, then counts over
// SteadyIntervals intervals what the hub asks of the members and of the DNS
// API, and the CPU it uses.
func (f *fleet) steady(ctx context.Context, res *Results) error {
	o := f.opts
	convergenceCalls := f.cf.Total()
	f.progress("settling for one resync interval (%s) so the last status writes and events are done", o.ResyncInterval)
	if err := sleep(ctx, o.ResyncInterval); err != nil {
		return err
	}
	window := time.Duration(o.SteadyIntervals) * o.ResyncInterval
	f.progress("measuring %d resync intervals (%s)", o.SteadyIntervals, window)
	before, cpu0, rec0, cf0 := f.requestSnapshot(), f.hubCPU(), f.reconcilesByController(), f.cf.Calls()
	busy0, clusters0 := MachineCPU(), f.clustersCPU()
	byReplica0 := f.requestsByReplica()
	start := time.Now()
	if err := sleep(ctx, window); err != nil {
		return err
	}
	byReplica := f.requestsByReplica()
	for r, ms := range byReplica {
		for m, n := range ms {
			if d := n - byReplica0[r][m]; d != 0 {
				if byReplica[r] == nil {
					byReplica[r] = map[string]int{}
				}
				byReplica[r][m] = d
			} else {
				delete(byReplica[r], m)
			}
		}
	}
	elapsed := time.Since(start)
	d := f.requestSnapshot().Since(before)
	cpu := f.hubCPU() - cpu0
	busy, clusters := MachineCPU().Since(busy0), f.clustersCPU()-clusters0
	rec := f.reconcilesByController()
	s := &Steady{
		ResyncInterval:         Seconds(o.ResyncInterval.Seconds()),
		Intervals:              o.SteadyIntervals,
		WindowSeconds:          Seconds(elapsed.Seconds()),
		ReconcilesByController: map[string]int{},
		Requests:               d.ByVerb(),
		RequestsByMember:       map[string]map[string]int{},
		Writes:                 d.WriteCount(),
		WriteList:              d.Writes(),
		HubCPUSeconds:          Seconds(cpu.Seconds()),
		RequestsByReplica:      byReplica,
		HubCPUPercent:          roundTo(100*cpu.Seconds()/elapsed.Seconds(), 2),
	}
	for m := range d {
		s.RequestsByMember[m] = d.ByVerb(m)
	}
	for k, v := range rec {
		if d := int(v - rec0[k]); d != 0 {
			s.ReconcilesByController[k] = d
			s.Reconciles += d
		}
	}
	s.MachineBusyPercent = roundTo(busy, 1)
	s.ClustersCPUSeconds = Seconds(clusters.Seconds())
	s.RequestsPerInterval = roundTo(float64(d.Total())/float64(o.SteadyIntervals), 1)
	s.ReadRequests = readList(d)
	// In process mode the memory section samples each replica instead.
	if !f.processMode() {
		s.Memory = MeasureMemory()
		if err := writeHeapProfile(filepath.Join(filepath.Dir(o.Output), "heap-steady.pb.gz")); err != nil {
			return err
		}
	}
	res.Steady = s
	f.progress("  %d reconciles, %d requests to members (%v), %d writes, hub CPU %.2fs (%.1f%% of a core)",
		s.Reconciles, d.Total(), s.Requests, s.Writes, s.HubCPUSeconds, s.HubCPUPercent)

	if o.DomainManagers > 0 {
		zone := f.cf.ZoneID(DNSZone)
		window := diffCalls(f.cf.Calls(), cf0)
		dns := &DNS{
			DomainManagers:    o.DomainManagers,
			Zone:              DNSZone,
			RecordsInZone:     len(f.cf.Records(DNSZone)),
			Ready:             readyOf(res, "DomainManager"),
			ConvergenceCalls:  convergenceCalls,
			CallsInWindow:     window,
			RequestsPerSecond: f.cfg.DNS.RequestsPerSecond,
		}
		var total, pages, writes int
		for k, v := range window {
			method, path, _ := strings.Cut(k, " ")
			total += v
			if method == http.MethodGet && strings.HasSuffix(path, "/zones/"+zone+"/dns_records") {
				pages += v
			}
			if method != http.MethodGet && method != http.MethodHead {
				writes += v
			}
		}
		n := float64(o.SteadyIntervals)
		dns.CallsPerInterval, dns.ListPagesPerInterval, dns.WritesPerInterval = roundTo(float64(total)/n, 2), roundTo(float64(pages)/n, 2), roundTo(float64(writes)/n, 2)
		res.DNS = dns
		f.progress("  DNS: %d records in the zone; per interval %.1f calls (%.1f list pages), %.1f writes",
			dns.RecordsInZone, dns.CallsPerInterval, dns.ListPagesPerInterval, dns.WritesPerInterval)
	}
	return nil
}

func diffCalls(now, before map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range now {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// readList names the read requests as "verb resource xN" (the list a person
// reads to see what a steady state asks for).
func readList(d RequestSnapshot) []string {
	sum := map[RequestKey]int{}
	for _, m := range d {
		for k, v := range m {
			if !writeVerbs[k.Verb] {
				sum[k] += v
			}
		}
	}
	var out []string
	for k, v := range sum {
		name := k.Verb
		if k.Resource != "" {
			name += " " + k.Resource
		}
		out = append(out, name+" x"+strconv.Itoa(v))
	}
	sort.Strings(out)
	return out
}

func readyOf(res *Results, kind string) int {
	if res.Convergence == nil {
		return 0
	}
	// Ready per kind is the number of latencies measured for it.
	return res.Convergence.TimeToReady[kind].Count
}
