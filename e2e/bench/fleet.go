package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	mcmanager "sigs.k8s.io/multicluster-runtime/pkg/manager"
	"sigs.k8s.io/yaml"

	"github.com/fleethub/fleethub/cmd/manager/app"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/e2e/backend"
	"github.com/fleethub/fleethub/e2e/backend/kwok"
	"github.com/fleethub/fleethub/e2e/framework"
	"github.com/fleethub/fleethub/pkg/config"
	"github.com/fleethub/fleethub/providers/dns/cloudflare/cloudflaretest"
	"github.com/fleethub/fleethub/providers/kubeconfig"
)

// Names of the benchmark's fleet.
const (
	// Prefix starts the backend name of every cluster the benchmark makes,
	// so it never touches the e2e suite's or the demo's clusters.
	Prefix = "fleethub-bench-"
	// DNSZone is the fake Cloudflare zone every DomainManager claims a name in.
	DNSZone  = "bench.example"
	dnsToken = "bench-api-token"
	dnsHubID = "fleethub-bench"
)

// fleet is the benchmark's clusters and the hub manager running in this process.
type fleet struct {
	opts     Options
	progress backend.Progress
	backend  *kwok.Backend
	fw       *framework.Fleet
	// clients are fast clients (high QPS) of the load generator, by member.
	clients map[string]client.Client
	hubCl   client.Client

	requests *Requests
	cf       *cloudflaretest.Server
	proxies  map[string]*fleettest.Proxy
	cfg      config.Config

	mgr      mcmanager.Manager
	provider *kubeconfig.Provider
	// replicas are the hub replica processes (Options.processes; then
	// mgr and provider are nil); hosts maps the servers of the member
	// kubeconfigs to members, to attribute their client requests.
	replicas []*replica
	hosts    map[string]string
	// baseline is the memory right after engagement, by replica ("" for
	// the in-process hub).
	baseline map[string]memPoint
	// The last reading of the replicas' metrics (scrapeAll).
	scrapeMu     sync.Mutex
	lastScrape   hubMetrics
	lastScrapeAt time.Time
	// restarted are the cluster processes the benchmark had to restart.
	restarted []string
	mgrCancel context.CancelFunc
	mgrDone   chan error
	// shutdown describes a slow stop of the hub manager, for the notes.
	shutdown string
}

// memberNames are the logical names of n members: member-01, member-02, …
func memberNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("member-%02d", i+1)
	}
	return out
}

// buildBinaries runs the hack/ builders (cached under bin/) and returns the
// Kubernetes and kwok binary directories.
func buildBinaries(ctx context.Context, progress backend.Progress) (k8sDir, kwokDir string, err error) {
	root := framework.ModuleRoot()
	progress("Kubernetes binaries: hack/test-bins.sh (built from source on first use, then cached)")
	if k8sDir, err = hackScript(ctx, filepath.Join(root, "hack", "test-bins.sh"), "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"); err != nil {
		return "", "", err
	}
	progress("kwok binaries: hack/kwok-bins.sh")
	if kwokDir, err = hackScript(ctx, filepath.Join(root, "hack", "kwok-bins.sh")); err != nil {
		return "", "", err
	}
	return k8sDir, kwokDir, nil
}

// hackScript runs a builder whose last line of stdout is its output directory.
func hackScript(ctx context.Context, path string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

// newFleet makes the kwok backend and removes clusters an interrupted
// earlier run left behind.
func newFleet(ctx context.Context, opts Options, progress backend.Progress, k8sDir, kwokDir string) (*fleet, error) {
	b, err := kwok.New(kwok.Options{
		WorkDir:    filepath.Join(opts.StateDir, "kwok"),
		K8sBinDir:  k8sDir,
		KwokBinDir: kwokDir,
		Nodes:      opts.nodes(),
		Progress:   progress,
	})
	if err != nil {
		return nil, err
	}
	// kube-apiserver's default Service range (10.0.0.0/24) holds 254
	// Services; every WebApp and SimpleDB has one.
	if err := addComponentArgs(filepath.Join(opts.StateDir, "kwok", "kwok.yaml"), "kube-apiserver",
		map[string]string{"service-cluster-ip-range": "10.0.0.0/16"}); err != nil {
		return nil, fmt.Errorf("kwokctl configuration: %w", err)
	}
	f := &fleet{
		opts:     opts,
		progress: progress,
		backend:  b,
		requests: NewRequests(),
		proxies:  map[string]*fleettest.Proxy{},
		clients:  map[string]client.Client{},
		hosts:    map[string]string{},
	}
	f.fw = &framework.Fleet{
		Options: framework.Options{
			Backend:  "kwok",
			Prefix:   Prefix,
			Members:  memberNames(opts.Members),
			StateDir: opts.StateDir,
			Progress: progress,
		},
		Bins:    framework.Binaries{K8sBinDir: k8sDir, KwokBinDir: kwokDir},
		Backend: b,
	}
	left, err := b.List(ctx, Prefix)
	if err != nil {
		return nil, err
	}
	if len(left) > 0 {
		progress("removing clusters an earlier run left behind: %s", strings.Join(left, ", "))
		if err := b.Delete(ctx, left...); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// clusterNames are the backend names of the hub and the members.
func (f *fleet) clusterNames() []string {
	names := []string{Prefix + framework.HubName}
	for _, m := range f.fw.Options.Members {
		names = append(names, Prefix+m)
	}
	return names
}

// up creates the clusters, prepares hub and members, and makes clients.
func (f *fleet) up(ctx context.Context) error {
	names := f.clusterNames()
	f.progress("creating %d kwok clusters (%d simulated nodes each): %s", len(names), f.opts.nodes(), strings.Join(names, ", "))
	if err := f.backend.Create(ctx, names...); err != nil {
		return err
	}
	if err := f.fw.Connect(ctx); err != nil {
		return err
	}
	var err error
	if f.hubCl, err = fastClient(f.fw.Hub.Config); err != nil {
		return err
	}
	for _, m := range f.fw.Members {
		if f.clients[m.Name], err = fastClient(m.Config); err != nil {
			return err
		}
	}
	if err := createIfMissing(ctx, f.hubCl, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: framework.HubNamespace}}); err != nil {
		return err
	}
	f.progress("preparing members: CRDs, member RBAC, storage (%d extra volumes each for SimpleDBs)", f.opts.SimpleDBs)
	errs := make([]error, len(f.fw.Members))
	var wg sync.WaitGroup
	for i, m := range f.fw.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := framework.PrepareMember(ctx, m); err != nil {
				errs[i] = fmt.Errorf("%s: %w", m.Name, err)
				return
			}
			if err := f.volumes(ctx, f.clients[m.Name], f.opts.SimpleDBs); err != nil {
				errs[i] = fmt.Errorf("%s: %w", m.Name, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return f.componentsRunning(ctx)
}

// componentsRunning restarts a member's kube-controller-manager or
// kube-scheduler that has exited, and fails when another process of a
// member has. On an overloaded machine these two give up at start when
// their apiserver is not healthy within 20s, and nothing restarts them: the
// member's Deployments would never get pods (the hub's own are not needed).
func (f *fleet) componentsRunning(ctx context.Context) error {
	var dead []string
	for _, name := range f.clusterNames()[1:] {
		for comp, pid := range f.backend.ComponentPIDs(name) {
			if processRuns(pid) {
				continue
			}
			if comp == "kube-controller-manager" || comp == "kube-scheduler" {
				if err := f.restartComponent(ctx, name, comp); err == nil {
					f.restarted = append(f.restarted, name+" "+comp)
					continue
				} else {
					f.progress("restarting %s %s: %v", name, comp, err)
				}
			}
			dead = append(dead, fmt.Sprintf("%s %s (pid %d)", name, comp, pid))
		}
	}
	if len(dead) > 0 {
		slices.Sort(dead)
		return fmt.Errorf("cluster processes exited (logs under %s): %s", filepath.Join(f.opts.StateDir, "kwok", "clusters"), strings.Join(dead, ", "))
	}
	return nil
}

// restartComponent starts one component again with the command line
// kwokctl would use (its dry run), but without a serving port (the old one
// may be taken by now), and records its pid where kwokctl looks for it, so
// deleting the cluster stops it.
func (f *fleet) restartComponent(ctx context.Context, cluster, comp string) error {
	work := filepath.Join(f.opts.StateDir, "kwok")
	dir := filepath.Join(work, "clusters", cluster)
	cmd := exec.CommandContext(ctx, filepath.Join(f.fw.Bins.KwokBinDir, "kwokctl"), "start", "cluster", "--name", cluster, "--dry-run")
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+work)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kwokctl dry run: %w", err)
	}
	var args []string
	for _, line := range strings.Split(string(out), "\n") {
		if _, rest, ok := strings.Cut(line, "&& "+comp+" "); ok {
			rest, _, _ = strings.Cut(rest, " >")
			args = strings.Fields(rest)
			break
		}
	}
	if args == nil {
		return errors.New("no command line in kwokctl's dry run")
	}
	for i, a := range args {
		if strings.HasPrefix(a, "--secure-port=") {
			args[i] = "--secure-port=0"
		}
	}
	logFile, err := os.Create(filepath.Join(dir, "logs", comp+".restarted.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	proc := exec.Command(filepath.Join(dir, "bin", comp), args...)
	proc.Dir, proc.Stdout, proc.Stderr = dir, logFile, logFile
	proc.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := proc.Start(); err != nil {
		return err
	}
	pid := proc.Process.Pid
	_ = proc.Process.Release()
	f.progress("%s: %s had exited; started it again (pid %d)", cluster, comp, pid)
	return os.WriteFile(filepath.Join(dir, "pids", comp+".pid"), []byte(strconv.Itoa(pid)), 0o644)
}

// processRuns reports whether pid is a live process (not a zombie).
func processRuns(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(raw, ')')
	return i > 0 && i+2 < len(raw) && raw[i+2] != 'Z'
}

// volumes adds n 1Gi volumes of the framework's static StorageClass, so the
// member's real PV controller binds every SimpleDB claim (kwok has no
// provisioner; the framework's pool of 16 is for the e2e scenarios).
func (f *fleet) volumes(ctx context.Context, c client.Client, n int) error {
	var sc storagev1.StorageClass
	if err := c.Get(ctx, client.ObjectKey{Name: framework.StorageClassName}, &sc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // the member has a provisioner of its own
		}
		return err
	}
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	return parallel(ctx, n, 16, func(i int) error {
		name := fmt.Sprintf("fleethub-bench-%04d", i)
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				StorageClassName:              framework.StorageClassName,
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: "/var/local/fleethub-bench/" + name, Type: &dirOrCreate},
				},
			},
		}
		return createIfMissing(ctx, c, pv)
	})
}

// fastClient is a load-generator client: no client-side throttling to speak of.
func fastClient(cfg *rest.Config) (client.Client, error) {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 5000, 10000
	c.UserAgent = "fleethub-bench"
	return client.New(c, client.Options{Scheme: app.Scheme()})
}

// versions reports each distinct Kubernetes version of the fleet's apiservers
// and the kwok version.
func (f *fleet) versions(ctx context.Context) map[string]string {
	out := map[string]string{}
	for _, c := range append([]*framework.Cluster{f.fw.Hub}, f.fw.Members...) {
		dc, err := discovery.NewDiscoveryClientForConfig(c.Config)
		if err != nil {
			continue
		}
		if v, err := dc.ServerVersion(); err == nil {
			out["kubernetes"] = v.GitVersion
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(f.fw.Bins.KwokBinDir, "kwok"), "--version")
	if raw, err := cmd.Output(); err == nil {
		// "kwok version v0.8.0 go1.26.8 (linux/amd64)"
		if f := strings.Fields(string(raw)); len(f) >= 3 {
			out["kwok"] = f[2]
		}
	}
	return out
}

// fleethubRevision is the checked-out commit, marked when the tree has
// uncommitted changes (other work in progress distorts nothing here, but
// the figures belong to that code).
func fleethubRevision(ctx context.Context) string {
	root := framework.ModuleRoot()
	rev, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	out := strings.TrimSpace(string(rev))
	if st, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		out += " (tree has uncommitted changes)"
	}
	return out
}

// startDNS starts the fake Cloudflare API with the benchmark's zone and puts
// the API token into the hub's credentials Secret.
func (f *fleet) startDNS(ctx context.Context) error {
	f.cf = cloudflaretest.NewServer(dnsToken)
	f.cf.AddZone(DNSZone)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: framework.DNSCredentialsSecret, Namespace: framework.HubNamespace},
		Data:       map[string][]byte{"apiToken": []byte(dnsToken)},
	}
	return createIfMissing(ctx, f.hubCl, s)
}

// managerArgs are the manager flags of the benchmark's hub: the shipped
// defaults but for the benchmark's settings, then the user's extra flags.
func (f *fleet) managerArgs() ([]string, error) {
	args := []string{
		"--hub-namespace=" + framework.HubNamespace,
		"--resync-interval=" + f.opts.ResyncInterval.String(),
		"--member-probe-interval=" + f.opts.ProbeInterval.String(),
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
		"--leader-elect=false",
		"--dns-provider=" + config.DNSProviderCloudflare,
		"--dns-cloudflare-api-url=" + f.cf.BaseURL(),
		"--dns-allowed-suffixes=" + DNSZone,
		"--dns-hub-id=" + dnsHubID,
		fmt.Sprintf("--dns-requests-per-second=%g", f.opts.DNSRequestsPerSecond),
	}
	args = append(args, strings.Fields(f.opts.ManagerFlags)...)
	// Checked here, so a bad --manager-flags fails before replicas start.
	if _, err := config.Parse(args, func(string) string { return "" }, io.Discard); err != nil {
		return nil, err
	}
	return args, nil
}

// managerConfig is the configuration managerArgs make.
func (f *fleet) managerConfig() (config.Config, error) {
	args, err := f.managerArgs()
	if err != nil {
		return config.Config{}, err
	}
	if f.opts.processes() {
		args = append(args, "--sharding", "--replica-id=hub-1")
	}
	return config.Parse(args, func(string) string { return "" }, io.Discard)
}

// startHub runs the real hub manager (cmd/manager/app, as cmd/manager builds it) in
// this process, counting every request it sends to a member.
func (f *fleet) startHub() error {
	cfg, err := f.managerConfig()
	if err != nil {
		return fmt.Errorf("manager configuration: %w", err)
	}
	f.cfg = cfg
	hubCfg := rest.CopyConfig(f.fw.Hub.Config)
	hubCfg.QPS, hubCfg.Burst = 0, 0 // client-go defaults, as cmd/manager has
	hubCfg.UserAgent = "fleethub-manager"
	mgr, prov, err := app.New(hubCfg, cfg, app.Options{
		MemberRESTConfig: func(name string, rc *rest.Config) {
			rc.Wrap(func(rt http.RoundTripper) http.RoundTripper { return f.requests.Wrap(name, rt) })
		},
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.mgr, f.provider, f.mgrCancel, f.mgrDone = mgr, prov, cancel, make(chan error, 1)
	go func() { f.mgrDone <- mgr.Start(ctx) }()
	return nil
}

// stopHub stops the in-process manager and waits for it. A stop slower
// than 10s leaves the goroutine stacks in the state directory for diagnosis.
func (f *fleet) stopHub() error {
	if f.mgrCancel == nil {
		return nil
	}
	f.mgrCancel()
	f.mgrCancel = nil
	start := time.Now()
	dumped := ""
	for {
		select {
		case err := <-f.mgrDone:
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			if d := time.Since(start); d > 10*time.Second {
				f.shutdown = fmt.Sprintf("the hub manager took %s to stop (returned %v); goroutines after 10s: %s", d.Round(100*time.Millisecond), err, dumped)
			} else if err != nil {
				f.shutdown = fmt.Sprintf("the hub manager returned %v when stopped", err)
			}
			return err
		case <-time.After(10 * time.Second):
			if dumped == "" {
				dumped = filepath.Join(f.opts.StateDir, "hub-stop-goroutines.txt")
				if out, err := os.Create(dumped); err == nil {
					_ = pprof.Lookup("goroutine").WriteTo(out, 2)
					_ = out.Close()
				}
				f.progress("the hub manager is still stopping after 10s; goroutines written to %s", dumped)
			}
			if time.Since(start) > time.Minute {
				f.shutdown = fmt.Sprintf("the hub manager did not stop within a minute; goroutines after 10s: %s", dumped)
				return errors.New(f.shutdown)
			}
		}
	}
}

// memberKubeconfig is the kubeconfig the hub gets for a member: a token of
// the member's hub ServiceAccount (exactly deploy/member's RBAC), pointed at
// the member's apiserver or at a proxy in front of it.
func (f *fleet) memberKubeconfig(ctx context.Context, member string, viaProxy bool) ([]byte, error) {
	kc, err := f.fw.MemberKubeconfig(ctx, member)
	if err != nil {
		return nil, err
	}
	if !viaProxy {
		return kc, nil
	}
	p := f.proxies[member]
	if p == nil {
		u, err := url.Parse(f.fw.Member(member).Config.Host)
		if err != nil {
			return nil, err
		}
		if p, err = fleettest.NewProxy(u.Host); err != nil {
			return nil, err
		}
		f.proxies[member] = p
	}
	cfg, err := clientcmd.Load(kc)
	if err != nil {
		return nil, err
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + p.Addr
	}
	return clientcmd.Write(*cfg)
}

// register creates the member's kubeconfig Secret on the hub.
func (f *fleet) register(ctx context.Context, member string, kc []byte) error {
	f.rememberHost(member, kc)
	return framework.PutMemberSecret(ctx, f.hubCl, member, kc)
}

// unregister deletes the member's Secret and waits until the hub forgot it.
func (f *fleet) unregister(ctx context.Context, member string) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: member, Namespace: framework.HubNamespace}}
	if err := client.IgnoreNotFound(f.hubCl.Delete(ctx, s)); err != nil {
		return err
	}
	// Gone from the provider, and its metric series dropped (which happens
	// just after), so a new registration's reconciles count from zero.
	return backend.Poll(ctx, time.Minute, f.pollEvery(20*time.Millisecond), func() error {
		if f.knows(ctx, member) {
			return fmt.Errorf("the hub still knows %s", member)
		}
		if n := f.successfulReconciles(member); n != 0 {
			return fmt.Errorf("the hub still reports %v reconciles in %s", n, member)
		}
		return nil
	})
}

// down stops everything this benchmark started: the hub manager, the fake
// DNS API, the proxies, and every cluster (through the backend, which stops
// each cluster's processes by their recorded pids).
func (f *fleet) down(ctx context.Context) error {
	var errs []error
	// A slow or failed stop of the hub is reported in the notes; the
	// clusters are deleted regardless.
	_ = f.stopHub()
	f.stopReplicas()
	for _, p := range f.proxies {
		p.Cut()
	}
	if f.cf != nil {
		f.cf.Close()
	}
	if f.opts.Keep {
		f.progress("--keep: leaving the clusters running; kubeconfig %s; remove them with another run or `kwokctl delete cluster` (KWOK_WORKDIR=%s)",
			f.fw.KubeconfigPath(), filepath.Join(f.opts.StateDir, "kwok"))
		return errors.Join(errs...)
	}
	names, err := f.backend.List(ctx, Prefix)
	if err != nil {
		errs = append(errs, err)
	}
	if err := f.backend.Delete(ctx, names...); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func createIfMissing(ctx context.Context, c client.Client, o client.Object) error {
	if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
	}
	return nil
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range min(workers, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range n {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop {
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// addComponentArgs adds extra flags for one control-plane component to the
// kwokctl configuration the kwok backend wrote (at kwokctl's default path in
// its work directory, where every kwokctl command it runs reads it). The
// backend has no option for component flags; this keeps its own patches.
func addComponentArgs(path, component string, args map[string]string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var extra []any
	for _, k := range slices.Sorted(maps.Keys(args)) {
		extra = append(extra, map[string]any{"key": k, "value": args[k]})
	}
	patches, _ := doc["componentsPatches"].([]any)
	doc["componentsPatches"] = append(patches, map[string]any{"name": component, "extraArgs": extra})
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

// clustersCPU is the CPU time used so far by every process of every
// cluster of the fleet (as kwokctl recorded their pids).
func (f *fleet) clustersCPU() time.Duration {
	var total time.Duration
	for _, name := range f.clusterNames() {
		for _, pid := range f.backend.ComponentPIDs(name) {
			total += ProcessCPU(pid)
		}
	}
	return total
}
