package framework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/e2e/backend"
)

// HubNamespace is where the fleet's hub keeps member Secrets.
const HubNamespace = "fleethub-system"

// HubName is the logical name of the hub cluster.
const HubName = "hub"

// Scheme knows the built-in kinds and fleethub's API.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}

// Options describe a fleet.
type Options struct {
	// Backend is "kwok" or "kind".
	Backend string `json:"backend"`
	// Prefix starts every cluster's backend name, so the e2e suite and the
	// demo (and several checkouts) never touch each other's clusters.
	Prefix string `json:"prefix"`
	// Members are the logical names of the member clusters; the hub is "hub".
	Members []string `json:"members"`
	// StateDir holds kubeconfigs, logs, the manager's pid and the backend's state.
	StateDir string `json:"stateDir"`
	// ManagerArgs and ManagerEnv are extra flags and environment for the hub manager.
	ManagerArgs []string `json:"managerArgs,omitempty"`
	ManagerEnv  []string `json:"-"`
	// Detach lets the hub manager outlive this process (make demo).
	Detach bool `json:"detach,omitempty"`
	// DNS configures the hub's DNS provider for DomainManagers; nil leaves
	// the manager's defaults.
	DNS *DNSOptions `json:"dns,omitempty"`
	// Images are the application images; zero means DefaultImages(Backend).
	Images Images `json:"images"`
	// Kind configures the kind backend.
	Kind KindOptions `json:"kind"`
	// Progress reports long steps; nil prints nothing.
	Progress backend.Progress `json:"-"`
}

// Cluster is one cluster of the fleet, reachable from this process.
type Cluster struct {
	// Name is the logical name: "hub" or a member name.
	Name string
	// BackendName is the backend's name for it (Prefix + Name).
	BackendName string
	// KubeconfigPath is an admin kubeconfig file for it, as seen from this machine.
	KubeconfigPath string
	Config         *rest.Config
	Client         client.Client
	Clientset      kubernetes.Interface
}

// Fleet is a running hub and its members.
type Fleet struct {
	Options
	Bins    Binaries
	Backend backend.Backend
	Hub     *Cluster
	Members []*Cluster
	Manager *Process
	// HubView is where the hub manager reaches members from, which decides
	// the server address in their kubeconfig Secrets: backend.Host for the
	// manager process (the default), backend.InCluster for a manager
	// deployed into the hub cluster.
	HubView backend.View
}

// state is what a later process needs to find a fleet again (make demo-down).
type state struct {
	Options Options  `json:"options"`
	Bins    Binaries `json:"binaries"`
	Manager *Process `json:"manager,omitempty"`
}

func (o *Options) defaults() error {
	if o.Backend == "" {
		o.Backend = "kwok"
	}
	if o.Progress == nil {
		o.Progress = backend.Discard
	}
	if o.Images.Web == "" {
		o.Images = DefaultImages(o.Backend)
	}
	if len(o.Members) == 0 {
		return errors.New("a fleet needs at least one member")
	}
	for _, m := range o.Members {
		if m == HubName {
			return fmt.Errorf("member name %q is reserved for the hub", m)
		}
	}
	dir, err := filepath.Abs(o.StateDir)
	if err != nil {
		return err
	}
	o.StateDir = dir
	return os.MkdirAll(dir, 0o755)
}

// Up builds what is missing, creates the clusters, prepares the members,
// starts the hub manager and registers every member. On error the clusters
// it made are left for inspection; call Down (or make demo-down) to remove them.
func Up(ctx context.Context, opts Options) (*Fleet, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	start := time.Now()
	bins, err := BuildBinaries(ctx, opts.Backend, opts.Progress)
	if err != nil {
		return nil, err
	}
	f := &Fleet{Options: opts, Bins: bins}
	if f.Backend, err = newBackend(opts, bins); err != nil {
		return nil, err
	}
	if err := f.save(); err != nil {
		return nil, err
	}
	names := []string{opts.Prefix + HubName}
	for _, m := range opts.Members {
		names = append(names, opts.Prefix+m)
	}
	opts.Progress("creating %d %s clusters: %s", len(names), opts.Backend, strings.Join(names, ", "))
	if err := f.Backend.Create(ctx, names...); err != nil {
		return f, err
	}
	if err := f.connect(ctx); err != nil {
		return f, err
	}
	opts.Progress("preparing the hub and the members (namespace, CRDs, member RBAC, storage)")
	if err := f.prepare(ctx); err != nil {
		return f, err
	}
	if err := f.loadImages(ctx); err != nil {
		return f, err
	}
	if err := f.prepareDNS(ctx); err != nil {
		return f, err
	}
	if err := f.StartManager(ctx); err != nil {
		return f, err
	}
	for _, m := range f.Members {
		if err := f.Register(ctx, m.Name); err != nil {
			return f, err
		}
	}
	for _, m := range f.Members {
		f.WaitEngaged(ctx, m.Name, 60*time.Second)
	}
	opts.Progress("fleet is up after %s", time.Since(start).Round(100*time.Millisecond))
	return f, nil
}

// Load finds the fleet whose state is in stateDir (written by Up).
func Load(ctx context.Context, stateDir string, progress backend.Progress) (*Fleet, error) {
	raw, err := os.ReadFile(filepath.Join(stateDir, "state.json"))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%s/state.json: %w", stateDir, err)
	}
	s.Options.Progress = progress
	if err := s.Options.defaults(); err != nil {
		return nil, err
	}
	f := &Fleet{Options: s.Options, Bins: s.Bins, Manager: s.Manager}
	if f.Backend, err = newBackend(f.Options, f.Bins); err != nil {
		return nil, err
	}
	return f, nil
}

// Connect makes clients for every cluster of a loaded fleet.
func (f *Fleet) Connect(ctx context.Context) error { return f.connect(ctx) }

func (f *Fleet) save() error {
	raw, err := json.MarshalIndent(state{Options: f.Options, Bins: f.Bins, Manager: f.Manager}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(f.StateDir, "state.json"), raw, 0o644)
}

// connect writes each cluster's admin kubeconfig (one file per cluster and
// one with a context per cluster) and makes clients.
func (f *Fleet) connect(ctx context.Context) error {
	merged := clientcmdapi.NewConfig()
	var clusters []*Cluster
	for _, name := range append([]string{HubName}, f.Options.Members...) {
		c := &Cluster{Name: name, BackendName: f.Prefix + name}
		kc, err := f.Backend.Kubeconfig(ctx, c.BackendName, backend.Host)
		if err != nil {
			return fmt.Errorf("kubeconfig of %s: %w", c.BackendName, err)
		}
		cfg, err := clientcmd.Load(kc)
		if err != nil {
			return err
		}
		cur := cfg.Contexts[cfg.CurrentContext]
		merged.Clusters[name] = cfg.Clusters[cur.Cluster]
		merged.AuthInfos[name] = cfg.AuthInfos[cur.AuthInfo]
		merged.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}

		c.KubeconfigPath = filepath.Join(f.StateDir, name+".kubeconfig")
		one := clientcmdapi.NewConfig()
		one.Clusters[name], one.AuthInfos[name] = merged.Clusters[name], merged.AuthInfos[name]
		one.Contexts[name] = merged.Contexts[name]
		one.CurrentContext = name
		if err := clientcmd.WriteToFile(*one, c.KubeconfigPath); err != nil {
			return err
		}
		if c.Config, err = backend.RESTConfig(kc); err != nil {
			return err
		}
		c.Config.QPS, c.Config.Burst = 50, 100
		c.Config.UserAgent = "fleethub-e2e"
		if c.Client, err = client.New(c.Config, client.Options{Scheme: Scheme()}); err != nil {
			return err
		}
		if c.Clientset, err = kubernetes.NewForConfig(c.Config); err != nil {
			return err
		}
		clusters = append(clusters, c)
	}
	merged.CurrentContext = HubName
	if err := clientcmd.WriteToFile(*merged, f.KubeconfigPath()); err != nil {
		return err
	}
	f.Hub, f.Members = clusters[0], clusters[1:]
	return nil
}

// KubeconfigPath is a kubeconfig with one context per cluster, named hub and
// after each member; its current context is the hub.
func (f *Fleet) KubeconfigPath() string { return filepath.Join(f.StateDir, "kubeconfig") }

// Member returns a member by logical name, or nil.
func (f *Fleet) Member(name string) *Cluster {
	for _, m := range f.Members {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Cluster returns the hub or a member by logical name, or nil.
func (f *Fleet) Cluster(name string) *Cluster {
	if name == HubName {
		return f.Hub
	}
	return f.Member(name)
}

func (f *Fleet) prepare(ctx context.Context) error {
	if err := ensureNamespace(ctx, f.Hub.Client, HubNamespace); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	errs := make([]error, len(f.Members))
	var wg sync.WaitGroup
	for i, m := range f.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes, _ := f.Backend.(backend.NodeCommander)
			if err := PrepareMemberNodes(ctx, m, nodes); err != nil {
				errs[i] = fmt.Errorf("member %s: %w", m.Name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// StartManager starts the hub manager as a process next to the clusters and
// records its pid in the state directory.
func (f *Fleet) StartManager(ctx context.Context) error {
	f.Progress("starting the hub manager (log: %s)", f.ManagerLogPath())
	args := []string{"--log-format=json", "--member-engage-timeout=10s"}
	if f.Images.PostgresRepository != "" && f.managerHasFlag(ctx, "postgres-image-repository") {
		args = append(args, "--postgres-image-repository="+f.Images.PostgresRepository)
	}
	args = append(args, f.dnsArgs(ctx)...)
	args = append(args, f.ManagerArgs...)
	p, err := StartManager(ctx, ManagerOptions{
		Binary:        f.Bins.Manager,
		HubKubeconfig: f.Hub.KubeconfigPath,
		HubNamespace:  HubNamespace,
		LogPath:       f.ManagerLogPath(),
		Args:          args,
		Env:           f.ManagerEnv,
		Detach:        f.Detach,
	})
	if err != nil {
		return err
	}
	f.Manager = p
	f.Progress("hub manager runs (pid %d, metrics http://%s/metrics)", p.PID, p.MetricsAddr)
	return f.save()
}

// StopManager stops the hub manager this package started.
func (f *Fleet) StopManager() error {
	if f.Manager == nil {
		return nil
	}
	f.Progress("stopping the hub manager (pid %d)", f.Manager.PID)
	err := f.Manager.Stop()
	f.Manager = nil
	if serr := f.save(); err == nil {
		err = serr
	}
	return err
}

// ManagerLogPath is where the hub manager's output goes.
func (f *Fleet) ManagerLogPath() string { return filepath.Join(f.StateDir, "manager.log") }

// Down stops the hub manager and deletes every cluster of the fleet,
// including ones a failed Up left behind.
func (f *Fleet) Down(ctx context.Context) error {
	var errs []error
	if err := f.StopManager(); err != nil {
		errs = append(errs, err)
	}
	names, err := f.Backend.List(ctx, f.Prefix)
	if err != nil {
		errs = append(errs, err)
	}
	want := map[string]bool{f.Prefix + HubName: true}
	for _, m := range f.Options.Members {
		want[f.Prefix+m] = true
	}
	var del []string
	for _, n := range names {
		if want[n] {
			del = append(del, n)
		}
	}
	if err := f.Backend.Delete(ctx, del...); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		_ = os.Remove(filepath.Join(f.StateDir, "state.json"))
	}
	return errors.Join(errs...)
}

// loadImages makes the application images available in every member.
func (f *Fleet) loadImages(ctx context.Context) error {
	images := []string{f.Images.Web}
	for _, t := range f.Images.PostgresTags {
		images = append(images, f.Images.PostgresRepository+":"+t)
	}
	for _, m := range f.Members {
		if err := f.Backend.LoadImages(ctx, m.BackendName, images...); err != nil {
			return fmt.Errorf("loading images into %s: %w", m.Name, err)
		}
	}
	return nil
}

// managerHasFlag reports whether the hub manager binary has a flag, so the
// fleet can pass settings only to managers that understand them.
func (f *Fleet) managerHasFlag(ctx context.Context, flag string) bool {
	out, _ := exec.CommandContext(ctx, f.Bins.Manager, "--help").CombinedOutput()
	return strings.Contains(string(out), "-"+flag+" ") || strings.Contains(string(out), "-"+flag+"\n")
}
