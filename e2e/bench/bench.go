// Package bench measures fleethub at scale on one machine: the real hub
// manager (cmd/manager/app, exactly what cmd/manager builds) runs in this process
// against member clusters that are real control planes with simulated nodes
// (the kwok e2e backend), so Deployments become available the way they do on
// a real cluster. It reports convergence time, the requests and CPU a steady
// state costs, memory with and without 100,000 unrelated objects in the
// members, engagement times, reconcile latency with a member unreachable,
// and the DNS API calls of 1000 records in one zone (fake Cloudflare API).
//
// It is a benchmark, not a test: it prints figures and asserts nothing.
// `make bench` runs it through e2e/cmd/bench; docs/benchmarks.md explains
// the figures.
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fleethub/fleethub/e2e/backend"
	"github.com/fleethub/fleethub/e2e/framework"
)

// Options size the benchmark. Every field is a flag (see Flags).
type Options struct {
	// Replicas above 1 run that many sharded hub replicas, each its own
	// process of cmd/manager, instead of one hub in this process.
	Replicas int `json:"replicas"`
	// ReplicaProcesses runs even a single hub as a sharded replica process,
	// so that 1, 2 and 3 replicas are measured alike.
	ReplicaProcesses bool `json:"replicaProcesses,omitempty"`
	Members          int  `json:"members"`
	WebApps          int  `json:"webAppsPerMember"`
	SimpleDBs        int  `json:"simpleDBsPerMember"`
	DomainManagers   int  `json:"domainManagersTotal"`

	ResyncInterval  time.Duration `json:"resyncInterval"`
	SteadyIntervals int           `json:"steadyIntervals"`
	ProbeInterval   time.Duration `json:"memberProbeInterval"`

	Unrelated        int          `json:"unrelatedObjectsTotal"`
	Mix              UnrelatedMix `json:"unrelatedMix"`
	UnrelatedWorkers int          `json:"unrelatedWorkers"`

	LatencyWebApps int           `json:"latencyWebAppsPerMember"`
	LatencySpacing time.Duration `json:"latencySpacing"`

	FairnessBacklog int `json:"fairnessBacklog"`

	CreateWorkers        int           `json:"createWorkersPerMember"`
	ConvergenceTimeout   time.Duration `json:"convergenceTimeout"`
	DNSRequestsPerSecond float64       `json:"dnsRequestsPerSecond"`
	ManagerFlags         string        `json:"managerFlags,omitempty"`

	StateDir string `json:"-"`
	Output   string `json:"-"`
	Keep     bool   `json:"-"`
}

// Flags defines every option on fs with the defaults for a 2-core machine
// (about 15 minutes in all).
func (o *Options) Flags(fs *flag.FlagSet) {
	root := framework.ModuleRoot()
	fs.IntVar(&o.Replicas, "replicas", 1, "hub replicas; above 1 each is a process of cmd/manager with --sharding (memory per replica from its /metrics and pprof), 1 runs the hub in this process")
	fs.BoolVar(&o.ReplicaProcesses, "replica-processes", false, "run the hub as sharded replica processes of cmd/manager also with --replicas 1 (to compare with --replicas 2 and 3 alike)")
	fs.IntVar(&o.Members, "members", 3, "member clusters (the last one is registered through a proxy and cut off in the engagement section)")
	fs.IntVar(&o.WebApps, "webapps", 300, "WebApps per member in the convergence section")
	fs.IntVar(&o.SimpleDBs, "simpledbs", 300, "SimpleDBs per member in the convergence section (each binds a volume and runs a Deployment)")
	fs.IntVar(&o.DomainManagers, "domainmanagers", 1000, "DomainManagers in all, spread over the members, all in one zone of the fake Cloudflare API")
	fs.DurationVar(&o.ResyncInterval, "resync-interval", 20*time.Second, "the hub manager's --resync-interval (shipped default 10m; short here so a few intervals fit in the run)")
	fs.IntVar(&o.SteadyIntervals, "steady-intervals", 5, "resync intervals the steady-state window lasts")
	fs.DurationVar(&o.ProbeInterval, "member-probe-interval", 5*time.Second, "the hub manager's --member-probe-interval (how soon it notices an unreachable member)")
	fs.IntVar(&o.Unrelated, "unrelated", 100000, "unrelated objects (without fleethub's label) added across the members in the memory section; 0 skips it")
	fs.IntVar(&o.Mix.SecretsPercent, "unrelated-secrets-percent", 30, "percent of the unrelated objects that are Secrets")
	fs.IntVar(&o.Mix.DeploymentsPercent, "unrelated-deployments-percent", 2, "percent that are Deployments (scaled to 0: no pods); the rest are ConfigMaps")
	fs.IntVar(&o.UnrelatedWorkers, "unrelated-workers", 48, "parallel creators of unrelated objects")
	fs.IntVar(&o.LatencyWebApps, "latency-webapps", 40, "WebApps created per healthy member in each engagement-latency phase; 0 skips the phases")
	fs.DurationVar(&o.LatencySpacing, "latency-spacing", 250*time.Millisecond, "pause between two creates in one member in the latency phases")
	fs.IntVar(&o.FairnessBacklog, "fairness-backlog", 2000, "new WebApps the first member converges while the second member's create → Deployment latency is measured again (needs 2 members and --latency-webapps; 0 skips)")
	fs.IntVar(&o.CreateWorkers, "create-workers", 16, "parallel creators per member in the convergence section")
	fs.DurationVar(&o.ConvergenceTimeout, "convergence-timeout", 20*time.Minute, "give up waiting for convergence after this long (reports what was Ready)")
	fs.Float64Var(&o.DNSRequestsPerSecond, "dns-requests-per-second", 50, "the hub manager's --dns-requests-per-second (shipped default 4, Cloudflare's budget; the fake API takes more)")
	fs.StringVar(&o.ManagerFlags, "manager-flags", "", "extra hub manager flags, space separated (e.g. \"--member-qps=200 --max-concurrent-reconciles=8\")")
	fs.StringVar(&o.StateDir, "state-dir", filepath.Join(root, ".cache", "bench"), "where clusters, kubeconfigs and the hub log live during the run")
	fs.StringVar(&o.Output, "output", filepath.Join(root, "bin", "bench", "results.json"), "where the JSON results are written")
	fs.BoolVar(&o.Keep, "keep", false, "leave the clusters running at the end (for inspection)")
}

// Validate rejects sizes the benchmark cannot run with.
func (o Options) Validate() error {
	var errs []error
	if o.Replicas < 1 {
		errs = append(errs, errors.New("--replicas must be at least 1"))
	}
	if o.Members < 1 {
		errs = append(errs, errors.New("--members must be at least 1"))
	}
	if o.WebApps < 0 || o.SimpleDBs < 0 || o.DomainManagers < 0 || o.Unrelated < 0 || o.LatencyWebApps < 0 || o.FairnessBacklog < 0 {
		errs = append(errs, errors.New("sizes must not be negative"))
	}
	if o.ResyncInterval < time.Second || o.SteadyIntervals < 1 {
		errs = append(errs, errors.New("--resync-interval must be at least 1s and --steady-intervals at least 1"))
	}
	if o.Mix.SecretsPercent < 0 || o.Mix.DeploymentsPercent < 0 || o.Mix.SecretsPercent+o.Mix.DeploymentsPercent > 100 {
		errs = append(errs, errors.New("unrelated percentages must be between 0 and 100 and add up to at most 100"))
	}
	if o.CreateWorkers < 1 || o.UnrelatedWorkers < 1 {
		errs = append(errs, errors.New("worker counts must be at least 1"))
	}
	return errors.Join(errs...)
}

// processes says whether the hub runs as replica processes.
func (o Options) processes() bool { return o.Replicas > 1 || o.ReplicaProcesses }

// nodes is the number of simulated nodes per member: kwok nodes take 110
// pods each, and every WebApp and SimpleDB runs one pod.
func (o Options) nodes() int {
	pods := o.WebApps + o.SimpleDBs + 4*o.LatencyWebApps + o.FairnessBacklog + 1
	return pods/100 + 2
}

// Results is everything one run measured; it is written as JSON.
type Results struct {
	StartedAt time.Time         `json:"startedAt"`
	Duration  Seconds           `json:"durationSeconds"`
	Machine   Machine           `json:"machine"`
	Backend   string            `json:"backend"`
	Versions  map[string]string `json:"versions"`
	Options   Options           `json:"options"`
	// ManagerConfig is the hub manager's effective configuration summary.
	ManagerConfig map[string]string `json:"managerConfig"`

	Engagement  *Engagement  `json:"engagement,omitempty"`
	Convergence *Convergence `json:"convergence,omitempty"`
	Steady      *Steady      `json:"steadyState,omitempty"`
	DNS         *DNS         `json:"dns,omitempty"`
	Latency     *Latency     `json:"reconcileLatency,omitempty"`
	Fairness    *Fairness    `json:"fairness,omitempty"`
	Sharding    *Sharding    `json:"sharding,omitempty"`
	Memory      *MemoryStudy `json:"memory,omitempty"`
	// Notes say what is approximated or what went wrong.
	Notes []string `json:"notes,omitempty"`
	// Error is set when the run stopped early.
	Error string `json:"error,omitempty"`
}

func (r *Results) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// Run builds what is missing, creates the fleet, runs every section and
// removes the fleet again (also when ctx is cancelled, e.g. on Ctrl-C). The
// results gathered so far are returned even with an error.
func Run(ctx context.Context, o Options, progress backend.Progress) (res *Results, err error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	res = &Results{StartedAt: start.UTC(), Machine: DescribeMachine(), Backend: "kwok", Options: o}
	res.Versions = map[string]string{"fleethub": fleethubRevision(ctx)}
	defer func() {
		res.Duration = Seconds(time.Since(start).Seconds())
		res.Machine.LoadAtEnd = LoadAverage()
		if err != nil {
			res.Error = err.Error()
		}
	}()
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		return res, err
	}
	if err := hubLogging(filepath.Join(o.StateDir, "hub.log")); err != nil {
		return res, err
	}

	k8sDir, kwokDir, err := buildBinaries(ctx, progress)
	if err != nil {
		return res, err
	}
	f, err := newFleet(ctx, o, progress, k8sDir, kwokDir)
	if err != nil {
		return res, err
	}
	defer func() {
		// Clean up even when ctx was cancelled (Ctrl-C).
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		defer cancel()
		progress("cleaning up: stopping the hub manager, deleting the clusters")
		if derr := f.down(cctx); derr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up: %w", derr))
		}
		if f.shutdown != "" {
			res.note("%s", f.shutdown)
		}
		if len(f.restarted) > 0 {
			res.note("restarted by the benchmark after they exited at start (apiserver not healthy in time on a loaded machine): %s", strings.Join(f.restarted, ", "))
		}
	}()
	if err := f.up(ctx); err != nil {
		return res, err
	}

	for k, v := range f.versions(ctx) {
		res.Versions[k] = v
	}
	if err := f.startDNS(ctx); err != nil {
		return res, err
	}
	if o.processes() {
		if f.cfg, err = f.managerConfig(); err != nil {
			return res, fmt.Errorf("manager configuration: %w", err)
		}
		res.Sharding = &Sharding{Replicas: o.Replicas}
		if err := f.startReplicas(ctx); err != nil {
			return res, err
		}
	} else if err := f.startHub(); err != nil {
		return res, err
	}
	res.ManagerConfig = map[string]string{
		"resyncInterval":          f.cfg.ResyncInterval.String(),
		"maxConcurrentReconciles": fmt.Sprint(f.cfg.MaxConcurrentReconciles),
		"memberQPS":               fmt.Sprint(f.cfg.MemberQPS),
		"memberBurst":             fmt.Sprint(f.cfg.MemberBurst),
		"memberProbeInterval":     f.cfg.MemberProbeInterval.String(),
		"memberEngageTimeout":     f.cfg.MemberEngageTimeout.String(),
		"dnsRequestsPerSecond":    fmt.Sprint(f.cfg.DNS.RequestsPerSecond),
		"logFile":                 filepath.Join(o.StateDir, "hub.log"),
	}
	if f.processMode() {
		res.ManagerConfig["logFile"] = filepath.Join(o.StateDir, "hub-N.log")
		res.ManagerConfig["shardLeaseDuration"] = f.cfg.Sharding.LeaseDuration.String()
	} else {
		progress("hub manager runs in this process (log: %s)", filepath.Join(o.StateDir, "hub.log"))
	}

	steps := []struct {
		name string
		run  func(context.Context, *Results) error
	}{
		{"engagement", f.engageMembers},
		{"convergence", f.converge},
		{"steady state and DNS", f.steady},
		{"memory", f.memory},
		{"reconcile latency", f.latency},
		{"engagement of a loaded member", f.reengage},
		{"fairness across members", f.fairness},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		progress("=== %s ===", s.name)
		if err := s.run(ctx, res); err != nil {
			return res, fmt.Errorf("%s: %w", s.name, err)
		}
		if s.name == "engagement" && res.Sharding != nil {
			res.Sharding.AfterEngagement = f.spread(ctx)
			progress("  members by replica: %v", res.Sharding.AfterEngagement)
		}
	}
	if res.Sharding != nil {
		res.Sharding.AtEnd = f.spread(ctx)
		progress("members by replica at the end: %v", res.Sharding.AtEnd)
	}
	return res, nil
}

// Sharding is how the members were spread over the replicas (--replicas
// above 1), from the serving replica on each member Secret: right after the
// first engagement and at the end of the run.
type Sharding struct {
	Replicas        int                 `json:"replicas"`
	AfterEngagement map[string][]string `json:"membersByReplicaAfterEngagement"`
	AtEnd           map[string][]string `json:"membersByReplicaAtEnd"`
}

// hubLogging sends the hub manager's logs (controller-runtime and client-go)
// to a file as JSON at info level, as a deployed manager logs by default.
func hubLogging(path string) error {
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	log := zap.New(zap.WriteTo(file), zap.Level(zapcore.InfoLevel))
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	return nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
