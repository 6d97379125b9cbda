// Package fleettest runs a fleet in one test process: a hub and any number of
// member clusters, each a real kube-apiserver and etcd (envtest), and the real
// hub manager from cmd/manager/app. Members are registered the way users do it, by
// creating a kubeconfig Secret on the hub.
package fleettest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	mcmanager "sigs.k8s.io/multicluster-runtime/pkg/manager"

	"github.com/fleethub/fleethub/cmd/manager/app"
	"github.com/fleethub/fleethub/pkg/config"
	"github.com/fleethub/fleethub/pkg/logging"
	"github.com/fleethub/fleethub/pkg/membersecret"
	"github.com/fleethub/fleethub/providers/kubeconfig"
)

// HubNamespace is where the test hub keeps member Secrets.
const HubNamespace = "fleethub-system"

// Cluster is one running control plane.
type Cluster struct {
	Name   string
	Env    *envtest.Environment
	Config *rest.Config
	Client client.Client
}

// Fleet is a hub and its members.
type Fleet struct {
	Hub      *Cluster
	Members  map[string]*Cluster
	Requests *RequestCounter
	users    int
}

// Start brings up a hub and the named members in parallel. Members get the
// fleethub CRDs; the hub gets only its namespace. Call Stop when done.
func Start(memberNames ...string) (*Fleet, error) {
	return StartWith(Options{}, memberNames...)
}

// Options shape a test fleet.
type Options struct {
	// BareMembers get no fleethub CRDs.
	BareMembers []string
}

// StartWith is Start with options.
func StartWith(opts Options, memberNames ...string) (*Fleet, error) {
	assets, err := BinaryAssets()
	if err != nil {
		return nil, err
	}
	crds := filepath.Join(moduleRoot(), "deploy", "crd", "bases")
	f := &Fleet{Members: map[string]*Cluster{}, Requests: NewRequestCounter()}
	names := append([]string{"hub"}, memberNames...)
	clusters := make([]*Cluster, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env := &envtest.Environment{BinaryAssetsDirectory: assets, ErrorIfCRDPathMissing: true}
			if name != "hub" && !slices.Contains(opts.BareMembers, name) {
				env.CRDDirectoryPaths = []string{crds}
			}
			clusters[i], errs[i] = startCluster(name, env)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, c := range clusters {
				if c != nil {
					_ = c.Env.Stop()
				}
			}
			return nil, fmt.Errorf("starting %s: %w", names[i], err)
		}
	}
	f.Hub = clusters[0]
	for _, c := range clusters[1:] {
		f.Members[c.Name] = c
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: HubNamespace}}
	if err := f.Hub.Client.Create(context.Background(), ns); err != nil {
		return nil, err
	}
	return f, nil
}

func startCluster(name string, env *envtest.Environment) (*Cluster, error) {
	cfg, err := env.Start()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: app.Scheme()})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &Cluster{Name: name, Env: env, Config: cfg, Client: c}, nil
}

// Stop stops every control plane.
func (f *Fleet) Stop() {
	for _, c := range f.Members {
		_ = c.Env.Stop()
	}
	_ = f.Hub.Env.Stop()
}

// Kubeconfig returns a kubeconfig for a member with fresh client-certificate
// credentials; each call yields a different credential, as a rotation would.
func (f *Fleet) Kubeconfig(member string) ([]byte, error) {
	c, ok := f.Members[member]
	if !ok {
		return nil, fmt.Errorf("no member %q", member)
	}
	f.users++
	u, err := c.Env.AddUser(envtest.User{Name: fmt.Sprintf("fleethub-%d", f.users), Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	return u.KubeConfig()
}

// KubeconfigWithToken returns a kubeconfig for a member that authenticates
// with token (which need not be valid).
func (f *Fleet) KubeconfigWithToken(member, token string) ([]byte, error) {
	c, ok := f.Members[member]
	if !ok {
		return nil, fmt.Errorf("no member %q", member)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters[member] = &clientcmdapi.Cluster{Server: c.Config.Host, CertificateAuthorityData: c.Config.CAData}
	kc.AuthInfos["user"] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts[member] = &clientcmdapi.Context{Cluster: member, AuthInfo: "user"}
	kc.CurrentContext = member
	return clientcmd.Write(*kc)
}

// Register creates (or replaces) the member's kubeconfig Secret on the hub.
func (f *Fleet) Register(ctx context.Context, member string) error {
	kc, err := f.Kubeconfig(member)
	if err != nil {
		return err
	}
	return f.PutSecret(ctx, member, map[string][]byte{membersecret.Key: kc})
}

// PutSecret writes a labelled member Secret with arbitrary data (for bad input tests).
func (f *Fleet) PutSecret(ctx context.Context, name string, data map[string][]byte) error {
	return f.PutSecretIn(ctx, HubNamespace, name, data)
}

// PutSecretIn is PutSecret in another hub namespace (for a second hub manager).
func (f *Fleet) PutSecretIn(ctx context.Context, namespace, name string, data map[string][]byte) error {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{membersecret.Label: "true"}},
		Data:       data,
	}
	err := f.Hub.Client.Create(ctx, s)
	if apierrors.IsAlreadyExists(err) {
		// The hub writes state annotations on the same Secret: retry on conflict.
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur := &corev1.Secret{}
			if err := f.Hub.Client.Get(ctx, client.ObjectKeyFromObject(s), cur); err != nil {
				return err
			}
			cur.Data = data
			return f.Hub.Client.Update(ctx, cur)
		})
	}
	return err
}

// Unregister deletes the member's Secret.
func (f *Fleet) Unregister(ctx context.Context, member string) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: member, Namespace: HubNamespace}}
	return client.IgnoreNotFound(f.Hub.Client.Delete(ctx, s))
}

// TestConfig is a manager configuration for tests: no leader election, no
// listeners, and a short resync so steady-state tests see several resyncs.
func TestConfig() config.Config {
	return config.Config{
		HubNamespace:            HubNamespace,
		ResyncInterval:          2 * time.Second,
		MetricsAddr:             "0",
		ProbeAddr:               "0",
		PprofAddr:               "0",
		LeaderElect:             false,
		LeaderElectionID:        "fleethub-leader",
		LogLevel:                "info",
		LogFormat:               "text",
		MaxConcurrentReconciles: 4,
		MemberEngageTimeout:     10 * time.Second,
		MemberQPS:               200,
		MemberBurst:             400,
		MemberRequestTimeout:    10 * time.Second,
		MemberProbeInterval:     time.Second,
	}
}

// Manager is a running hub manager.
type Manager struct {
	Manager  mcmanager.Manager
	Provider *kubeconfig.Provider
	cancel   context.CancelFunc
	done     chan error
}

// StartManager runs the real hub manager against the fleet's hub, counting
// every request it sends to members.
func (f *Fleet) StartManager(cfg config.Config) (*Manager, error) {
	mgr, prov, err := app.New(f.Hub.Config, cfg, app.Options{
		MemberRESTConfig: func(name string, rc *rest.Config) {
			rc.Wrap(func(rt http.RoundTripper) http.RoundTripper { return f.Requests.wrap(name, rt) })
		},
		SkipControllerNameValidation: true,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{Manager: mgr, Provider: prov, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- mgr.Start(ctx) }()
	return m, nil
}

// Stop stops the manager and waits for it to return.
func (m *Manager) Stop() error {
	m.cancel()
	select {
	case err := <-m.done:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("manager did not stop within 30s")
	}
}

// WaitEngaged waits until the provider has engaged every named member.
func (m *Manager) WaitEngaged(ctx context.Context, names ...string) error {
	return Eventually(ctx, 30*time.Second, func() error {
		got := m.Provider.Members()
		for _, n := range names {
			if !got[n] {
				return fmt.Errorf("member %s not engaged (members: %v)", n, got)
			}
		}
		return nil
	})
}

// Eventually calls check until it returns nil or timeout passes, and returns
// the last error.
func Eventually(ctx context.Context, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// BinaryAssets finds etcd and kube-apiserver: $KUBEBUILDER_ASSETS if set,
// else what hack/test-bins.sh built under bin/.
func BinaryAssets() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	matches, _ := filepath.Glob(filepath.Join(moduleRoot(), "bin", "k8s-*", "kube-apiserver"))
	sort.Strings(matches)
	for i := len(matches) - 1; i >= 0; i-- {
		dir := filepath.Dir(matches[i])
		if _, err := os.Stat(filepath.Join(dir, "etcd")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no etcd/kube-apiserver found: run `make test-bins` (or set KUBEBUILDER_ASSETS)")
}

func moduleRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/fleethub/fleethub\n") {
			return d
		}
	}
	return dir
}

// Must fails the test on err.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// SetupLogging sends the manager's logs to stderr when FLEETHUB_TEST_LOG is
// set (e.g. FLEETHUB_TEST_LOG=1 go test -v ./...), and discards them otherwise.
func SetupLogging() {
	if os.Getenv("FLEETHUB_TEST_LOG") == "" {
		ctrllog.SetLogger(logr.Discard())
		return
	}
	l, _ := logging.New("text", "debug")
	ctrllog.SetLogger(l)
}
