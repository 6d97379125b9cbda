// Package registration registers member clusters with a fleethub hub: it gives
// the hub an identity in the member (ServiceAccount bound to the generated
// fleethub-member ClusterRole), issues that identity a bounded-lifetime token,
// and stores a kubeconfig built from it as the member's Secret on the hub. It
// also removes registrations and lists members with the health the hub
// reports. cmd/kubectl-fleethub is its command line; everything here works on
// rest.Configs so tests can drive it against real apiservers.
package registration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// DefaultRequestTimeout bounds each request the CLI sends.
const DefaultRequestTimeout = 30 * time.Second

// reachTimeout bounds the first request to each cluster, which tells an
// unreachable cluster apart from everything else.
const reachTimeout = 10 * time.Second

// LoadConfig returns the client configuration of a context in a kubeconfig.
// path "" uses the usual rules ($KUBECONFIG, then ~/.kube/config); context ""
// means the kubeconfig's current-context. It also returns the context's name.
func LoadConfig(path, context string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	where := strings.Join(rules.GetLoadingPrecedence(), string(filepath.ListSeparator))
	if path != "" {
		rules.ExplicitPath = path
		where = path
	}
	raw, err := rules.Load()
	if err != nil {
		return nil, "", fmt.Errorf("reading kubeconfig %s: %w", where, err)
	}
	name := context
	if name == "" {
		name = raw.CurrentContext
		if name == "" {
			return nil, "", fmt.Errorf("kubeconfig %s has no current-context; name a context explicitly", where)
		}
	}
	if _, ok := raw.Contexts[name]; !ok {
		names := make([]string, 0, len(raw.Contexts))
		for n := range raw.Contexts {
			names = append(names, n)
		}
		sort.Strings(names)
		avail := "none"
		if len(names) > 0 {
			avail = strings.Join(names, ", ")
		}
		return nil, "", fmt.Errorf("context %q not found in kubeconfig %s (contexts: %s)", name, where, avail)
	}
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, name, &clientcmd.ConfigOverrides{}, rules).ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("context %q in kubeconfig %s: %w", name, where, err)
	}
	cfg.Timeout = DefaultRequestTimeout
	// A registration sends a few dozen requests; client-go's default of 5 per
	// second would make it wait for nothing.
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, name, nil
}

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// target names a cluster in messages: "member cluster (context kind-m1, https://…)".
type target struct {
	role    string // "member" or "hub"
	context string
	cfg     *rest.Config
}

func (t target) String() string {
	if t.context != "" {
		return fmt.Sprintf("%s cluster (context %s, %s)", t.role, t.context, t.cfg.Host)
	}
	return fmt.Sprintf("%s cluster (%s)", t.role, t.cfg.Host)
}

// checkReachable asks the cluster for its version, so an unreachable cluster
// or rejected credentials are reported before anything is written.
func checkReachable(t target) error {
	cfg := rest.CopyConfig(t.cfg)
	cfg.Timeout = reachTimeout
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	if _, err := dc.ServerVersion(); err != nil {
		return explain(t, "connecting", err)
	}
	return nil
}

// explain turns an API or transport error into a message that says what the
// user can do about it.
func explain(t target, doing string, err error) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%s: permission denied %s: %w (%s)", t, doing, err, t.needs())
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("%s rejected your credentials %s (log in again or pick another context): %w", t, doing, err)
	case isUnreachable(err):
		return fmt.Errorf("cannot reach the %s %s: %w", t, doing, err)
	}
	return fmt.Errorf("%s: %s: %w", t, doing, err)
}

func (t target) needs() string {
	if t.role == "hub" {
		return "you need to get, create, patch, list and delete Secrets in the hub namespace"
	}
	return "registering needs cluster-admin in the member: it creates a namespace, a ServiceAccount, a ClusterRole and its binding, and requests a token"
}

func isUnreachable(err error) bool {
	var ue *url.Error
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.As(err, &oe) ||
		errors.Is(err, context.DeadlineExceeded) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err)
}
