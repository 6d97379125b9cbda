package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/e2e/backend"
	"github.com/fleethub/fleethub/e2e/framework"
	"github.com/fleethub/fleethub/pkg/membersecret"
)

// replica is one sharded hub replica run as its own process of the real
// manager binary (cmd/manager), so its memory and CPU are its own. The
// benchmark reads it from the outside only: its /metrics and pprof
// endpoints on loopback and the state annotations on the member Secrets.
type replica struct {
	id          string
	cmd         *exec.Cmd
	metricsAddr string
	pprofAddr   string
	logPath     string
	done        chan error
}

// processMode says whether the hub runs as replica processes (--replicas
// above 1, or --replica-processes) rather than in this process.
func (f *fleet) processMode() bool { return len(f.replicas) > 0 }

// freeAddr is a loopback address nothing listens on right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startReplicas builds cmd/manager and starts Replicas sharded replicas of
// it against the hub, then waits until each sees all its peers, so members
// registered afterwards are spread once rather than moved while replicas
// appear.
func (f *fleet) startReplicas(ctx context.Context) error {
	args, err := f.managerArgs()
	if err != nil {
		return err
	}
	root := framework.ModuleRoot()
	bin := filepath.Join(filepath.Dir(f.opts.Output), "manager")
	f.progress("building the hub manager (cmd/manager) for %d replica processes", f.opts.Replicas)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/manager")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building cmd/manager: %w", err)
	}
	for i := range f.opts.Replicas {
		r := &replica{id: fmt.Sprintf("hub-%d", i+1), done: make(chan error, 1)}
		if r.metricsAddr, err = freeAddr(); err != nil {
			return err
		}
		if r.pprofAddr, err = freeAddr(); err != nil {
			return err
		}
		r.logPath = filepath.Join(f.opts.StateDir, r.id+".log")
		logFile, err := os.Create(r.logPath)
		if err != nil {
			return err
		}
		rargs := append(slices.Clone(args),
			"--kubeconfig="+f.fw.Hub.KubeconfigPath,
			"--sharding",
			"--replica-id="+r.id,
			"--metrics-bind-address="+r.metricsAddr,
			"--pprof-bind-address="+r.pprofAddr,
		)
		// Not bound to ctx: stopReplicas stops them gracefully, also after Ctrl-C.
		r.cmd = exec.Command(bin, rargs...)
		r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
		// Only what the manager needs: no FLEETHUB_* settings of the caller.
		r.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		// Its own process group: a Ctrl-C reaches the benchmark, which then
		// stops the replicas in order.
		// A benchmark killed outright takes its replicas with it.
		r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		if err := r.cmd.Start(); err != nil {
			logFile.Close()
			return fmt.Errorf("starting replica %s: %w", r.id, err)
		}
		go func() { r.done <- r.cmd.Wait(); logFile.Close() }()
		f.replicas = append(f.replicas, r)
		f.progress("  replica %s: pid %d, metrics http://%s/metrics, pprof http://%s/debug/pprof, log %s", r.id, r.cmd.Process.Pid, r.metricsAddr, r.pprofAddr, r.logPath)
	}
	n := float64(len(f.replicas))
	start := time.Now()
	err = backend.Poll(ctx, 2*time.Minute, 500*time.Millisecond, func() error {
		for _, r := range f.replicas {
			select {
			case err := <-r.done:
				r.done <- err
				return backend.Permanent(fmt.Errorf("replica %s exited: %w (log %s)", r.id, err, r.logPath))
			default:
			}
			fams, err := r.scrape(ctx)
			if err != nil {
				return err
			}
			if got := (hubMetrics{fams}).Sum("fleethub_hub_replicas", nil); got != n {
				return fmt.Errorf("replica %s sees %v replicas", r.id, got)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replicas did not all see each other: %w", err)
	}
	f.progress("  all %d replicas see each other after %.1fs", len(f.replicas), time.Since(start).Seconds())
	return nil
}

// stopReplicas stops every replica with SIGTERM (as the kubelet does),
// waits for each and kills one that has not stopped after a minute.
func (f *fleet) stopReplicas() {
	var slow []string
	for _, r := range f.replicas {
		if r.cmd.Process != nil {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, r := range f.replicas {
		start := time.Now()
		select {
		case <-r.done:
		case <-time.After(time.Minute):
			_ = r.cmd.Process.Kill()
			<-r.done
			slow = append(slow, r.id+" (killed after 1m)")
			continue
		}
		if d := time.Since(start); d > 10*time.Second {
			slow = append(slow, fmt.Sprintf("%s (%s)", r.id, d.Round(100*time.Millisecond)))
		}
	}
	if len(slow) > 0 {
		f.shutdown = "replicas slow to stop: " + strings.Join(slow, ", ")
	}
	f.replicas = nil
}

// scrapeClient waits long: a forced collection in a replica on a machine
// at load 25 took more than 10s.
var scrapeClient = &http.Client{Timeout: time.Minute}

// scrape reads the replica's /metrics.
func (r *replica) scrape(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.metricsAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := scrapeClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("replica %s /metrics: %s", r.id, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// heapProfile collects garbage in the replica (pprof's gc=1) and, with a
// path, keeps the heap profile it returns.
func (r *replica) heapProfile(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.pprofAddr+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := scrapeClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("replica %s heap profile: %s", r.id, resp.Status)
	}
	if path == "" {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// scrapeAll merges every replica's metrics into one reading, as a query
// summed over the replica label would. Readings are reused for 100ms: the
// engagement polls ask for them from one goroutine per member.
func (f *fleet) scrapeAll() hubMetrics {
	f.scrapeMu.Lock()
	defer f.scrapeMu.Unlock()
	if f.lastScrape.families != nil && time.Since(f.lastScrapeAt) < 100*time.Millisecond {
		return f.lastScrape
	}
	out := hubMetrics{families: map[string]*dto.MetricFamily{}}
	for _, r := range f.replicas {
		fams, err := r.scrape(context.Background())
		if err != nil {
			continue // a stopped replica has no series left to add
		}
		for name, fam := range fams {
			if have := out.families[name]; have != nil {
				have.Metric = append(have.Metric, fam.Metric...)
			} else {
				out.families[name] = fam
			}
		}
	}
	f.lastScrape, f.lastScrapeAt = out, time.Now()
	return out
}

// hubMetrics reads the hub's metrics: the in-process registry, or every
// replica's /metrics.
func (f *fleet) hubMetrics() hubMetrics {
	if f.processMode() {
		return f.scrapeAll()
	}
	return gatherHubMetrics()
}

// requestSnapshot is the hub's requests to the members so far. In process
// mode there is no transport to wrap: client-go's own counter
// (rest_client_requests_total by method and host) stands in, so requests
// have an HTTP method's verb and no resource, and reads are one verb.
func (f *fleet) requestSnapshot() RequestSnapshot {
	if !f.processMode() {
		return f.requests.Snapshot()
	}
	fam := f.scrapeAll().families["rest_client_requests_total"]
	out := RequestSnapshot{}
	if fam == nil {
		return out
	}
	verbOf := map[string]string{"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete", "GET": "read"}
	for _, m := range fam.GetMetric() {
		var host, method string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "host":
				host = l.GetValue()
			case "method":
				method = l.GetValue()
			}
		}
		member, ok := f.hosts[host]
		if !ok {
			continue // the hub apiserver
		}
		verb := verbOf[method]
		if verb == "" {
			verb = strings.ToLower(method)
		}
		if out[member] == nil {
			out[member] = map[RequestKey]int{}
		}
		out[member][RequestKey{Verb: verb}] += int(m.GetCounter().GetValue())
	}
	return out
}

// requestsByReplica is each replica's requests to each member so far (all
// verbs), to see which replica talks to which member.
func (f *fleet) requestsByReplica() map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, r := range f.replicas {
		fams, err := r.scrape(context.Background())
		if err != nil {
			continue
		}
		fam := fams["rest_client_requests_total"]
		if fam == nil {
			continue
		}
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "host" {
					continue
				}
				if member, ok := f.hosts[l.GetValue()]; ok {
					if out[r.id] == nil {
						out[r.id] = map[string]int{}
					}
					out[r.id][member] += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return out
}

// rememberHost maps the server of a member's kubeconfig to the member, to
// attribute the replicas' client requests.
func (f *fleet) rememberHost(member string, kc []byte) {
	cfg, err := clientcmd.Load(kc)
	if err != nil {
		return
	}
	for _, c := range cfg.Clusters {
		if u, err := url.Parse(c.Server); err == nil {
			f.hosts[u.Host] = member
		}
	}
}

// memberSecretState is the state and serving replica the hub recorded on
// the member's Secret.
func (f *fleet) memberSecretState(ctx context.Context, member string) (membersecret.State, string, bool) {
	s := &corev1.Secret{}
	if err := f.hubCl.Get(ctx, client.ObjectKey{Namespace: framework.HubNamespace, Name: member}, s); err != nil {
		return "", "", false
	}
	return membersecret.State(s.Annotations[membersecret.AnnotationState]), s.Annotations[membersecret.AnnotationReplica], true
}

// engaged reports whether the hub serves the member: engaged and
// available in the provider, or, in process mode, Ready on its Secret.
func (f *fleet) engaged(ctx context.Context, member string) bool {
	if !f.processMode() {
		return f.provider.Members()[member]
	}
	st, _, _ := f.memberSecretState(ctx, member)
	return st == membersecret.StateReady
}

// knows reports whether the hub still has the member at all (in process
// mode: whether its Secret is still there).
func (f *fleet) knows(ctx context.Context, member string) bool {
	if !f.processMode() {
		_, ok := f.provider.Members()[member]
		return ok
	}
	_, _, ok := f.memberSecretState(ctx, member)
	return ok
}

// memberState is the member's state as the hub reports it.
func (f *fleet) memberState(ctx context.Context, member string) (membersecret.State, bool) {
	if !f.processMode() {
		st, _, ok := f.provider.MemberState(member)
		return st, ok
	}
	st, _, ok := f.memberSecretState(ctx, member)
	return st, ok && st != ""
}

// hubCPU is the hub's CPU time so far: this process's, or the replicas'.
func (f *fleet) hubCPU() time.Duration {
	if !f.processMode() {
		return CPUTime()
	}
	var total time.Duration
	for _, r := range f.replicas {
		total += ProcessCPU(r.cmd.Process.Pid)
	}
	return total
}

// pollEvery is how often engagement and state are polled: every poll in
// process mode reads Secrets from the hub and scrapes every replica.
func (f *fleet) pollEvery(inProcess time.Duration) time.Duration {
	if f.processMode() {
		return max(inProcess, 100*time.Millisecond)
	}
	return inProcess
}

// ReplicaSample is one replica's memory and share of the fleet.
type ReplicaSample struct {
	Replica string   `json:"replica"`
	Members []string `json:"members"`
	// Objects are the managed objects of its members per kind: the CRs and
	// the children carrying fleethub's label, counted in the members (the
	// same selection as the replica's caches; the caches themselves are in
	// another process).
	Objects        map[string]int `json:"managedObjects"`
	ManagedObjects int            `json:"managedObjectsTotal"`
	// Memory is the median of the samples; Min and Max bound them.
	Memory ReplicaMemory `json:"memory"`
	Min    ReplicaMemory `json:"min"`
	Max    ReplicaMemory `json:"max"`
	// HeapPerObjectKiB is the median live heap over ManagedObjects;
	// MarginalKiB its growth since the baseline over the objects' growth.
	HeapPerObjectKiB float64 `json:"heapPerObjectKiB,omitempty"`
	MarginalKiB      float64 `json:"marginalHeapPerObjectKiB,omitempty"`
	HeapProfile      string  `json:"heapProfile,omitempty"`
}

// ReplicaMemory is a replica process's memory right after a forced
// collection (pprof's gc=1), read from its /metrics.
type ReplicaMemory struct {
	// HeapLiveMiB is go_gc_heap_live_bytes (the heap the collection found
	// live), HeapInuseMiB go_memstats_heap_inuse_bytes (live plus the
	// unused parts of in-use spans) and RSSMiB the process's resident set
	// (not returned to the OS first, unlike the in-process RSS).
	HeapLiveMiB  float64 `json:"heapLiveMiB"`
	HeapInuseMiB float64 `json:"heapInuseMiB"`
	RSSMiB       float64 `json:"rssMiB"`
	Goroutines   int     `json:"goroutines"`
}

// sampleReplicas samples every replica memorySamples times over span (a
// heap profile each at the first), and counts its members' managed objects.
func (f *fleet) sampleReplicas(ctx context.Context, moment string, span time.Duration, samples int) ([]ReplicaSample, error) {
	out := make([]ReplicaSample, len(f.replicas))
	byReplica := map[string][]string{}
	for _, m := range f.fw.Options.Members {
		if st, id, ok := f.memberSecretState(ctx, m); ok && st == membersecret.StateReady {
			byReplica[id] = append(byReplica[id], m)
		}
	}
	for i, r := range f.replicas {
		s := ReplicaSample{Replica: r.id, Members: byReplica[r.id], Objects: map[string]int{}}
		for _, m := range s.Members {
			objs, err := f.managedObjects(ctx, m)
			if err != nil {
				return nil, err
			}
			for k, v := range objs {
				s.Objects[k] += v
				s.ManagedObjects += v
			}
		}
		out[i] = s
	}
	all := make([][]ReplicaMemory, len(f.replicas))
	for n := range samples {
		if n > 0 {
			if err := sleep(ctx, span/time.Duration(samples)); err != nil {
				return nil, err
			}
		}
		for i, r := range f.replicas {
			path := ""
			if n == 0 {
				path = filepath.Join(filepath.Dir(f.opts.Output), "heap-"+moment+"-"+r.id+".pb.gz")
				out[i].HeapProfile = path
			}
			if err := r.heapProfile(ctx, path); err != nil {
				return nil, err
			}
			fams, err := r.scrape(ctx)
			if err != nil {
				return nil, err
			}
			h := hubMetrics{fams}
			live := h.Sum("go_gc_heap_live_bytes", nil)
			if live == 0 {
				live = h.Sum("go_memstats_heap_alloc_bytes", nil) // right after the collection: live plus a little
			}
			all[i] = append(all[i], ReplicaMemory{
				HeapLiveMiB:  mib(int64(live)),
				HeapInuseMiB: mib(int64(h.Sum("go_memstats_heap_inuse_bytes", nil))),
				RSSMiB:       mib(int64(h.Sum("process_resident_memory_bytes", nil))),
				Goroutines:   int(h.Sum("go_goroutines", nil)),
			})
		}
	}
	for i := range out {
		out[i].Memory, out[i].Min, out[i].Max = medianReplicaMemory(all[i])
		if out[i].ManagedObjects > 0 {
			out[i].HeapPerObjectKiB = roundTo(out[i].Memory.HeapLiveMiB*1024/float64(out[i].ManagedObjects), 2)
		}
	}
	return out, nil
}

func medianReplicaMemory(samples []ReplicaMemory) (med, lo, hi ReplicaMemory) {
	if len(samples) == 0 {
		return
	}
	pick := func(get func(ReplicaMemory) float64) (float64, float64, float64) { return spread(samples, get) }
	med.HeapLiveMiB, lo.HeapLiveMiB, hi.HeapLiveMiB = pick(func(m ReplicaMemory) float64 { return m.HeapLiveMiB })
	med.HeapInuseMiB, lo.HeapInuseMiB, hi.HeapInuseMiB = pick(func(m ReplicaMemory) float64 { return m.HeapInuseMiB })
	med.RSSMiB, lo.RSSMiB, hi.RSSMiB = pick(func(m ReplicaMemory) float64 { return m.RSSMiB })
	g, _, _ := pick(func(m ReplicaMemory) float64 { return float64(m.Goroutines) })
	med.Goroutines = int(g)
	return med, lo, hi
}

// Spread is how the members were divided over the replicas, from the
// serving replica recorded on each member Secret.
func (f *fleet) spread(ctx context.Context) map[string][]string {
	out := map[string][]string{}
	for _, m := range f.fw.Options.Members {
		st, id, ok := f.memberSecretState(ctx, m)
		switch {
		case !ok:
			id = "(no Secret)"
		case st != membersecret.StateReady:
			id = fmt.Sprintf("(%s)", st)
		case id == "":
			id = "(none)"
		}
		out[id] = append(out[id], m)
	}
	return out
}
