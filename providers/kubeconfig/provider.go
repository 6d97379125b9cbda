// Package kubeconfig is fleethub's cluster provider: every labelled Secret in
// the hub namespace holding a kubeconfig becomes a member cluster.
//
// It follows multicluster-runtime's kubeconfig provider conventions (label
// sigs.k8s.io/multicluster-runtime-kubeconfig: "true", data key "kubeconfig",
// cluster name = Secret name), so Secrets made by upstream tooling work. Unlike
// the reference provider:
//   - each member lives in its own goroutine that connects with a deadline,
//     probes health periodically and retries with backoff, so one slow or
//     broken member never holds up the Secret controller or another member;
//   - kubeconfigs are untrusted input: exec plugins, local file references and
//     insecure transport are refused unless the hub operator allows them;
//   - a member is engaged for the fleethub kinds whose CRDs it has, and
//     re-engaged when that set changes;
//   - each member's state is published as annotations and Events on its Secret
//     and as metrics.
package kubeconfig

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	mcbuilder "sigs.k8s.io/multicluster-runtime/pkg/builder"
	mcmanager "sigs.k8s.io/multicluster-runtime/pkg/manager"
	"sigs.k8s.io/multicluster-runtime/pkg/multicluster"

	"github.com/fleethub/fleethub/pkg/membersecret"
)

// Hub permissions of the provider (deploy/rbac): Secrets and Events in the hub
// namespace only; patch writes the member state annotations.
// +kubebuilder:rbac:groups="",namespace=fleethub-system,resources=secrets,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=events.k8s.io,namespace=fleethub-system,resources=events,verbs=create;patch

// Options configure the provider.
type Options struct {
	// Namespace is the hub namespace whose labelled Secrets are members.
	Namespace string
	// ClusterOptions configure each member's cluster (scheme, cache filters).
	ClusterOptions []cluster.Option
	// Kinds are the fleethub kinds (resource plural → Kind) a member may serve;
	// a member is engaged for those whose CRDs it has.
	Kinds map[string]string
	// GroupVersion is the API group/version the Kinds belong to.
	GroupVersion string
	// Informers are, per kind, the objects whose informers that kind's
	// controller reads (its CR and its children). They are synced before a
	// member is handed to the controllers.
	Informers map[string][]client.Object
	// Defaults are the per-member client settings before annotations.
	Defaults ClientSettings
	// Policy says which risky kubeconfig features are allowed.
	Policy Policy
	// RESTConfig, if set, adjusts each member's rest.Config last (tests wrap
	// the transport to count requests). It must not block.
	RESTConfig func(name string, cfg *rest.Config)
	// EngageTimeout bounds one attempt to connect to and engage a member.
	EngageTimeout time.Duration
	// ProbeInterval is how often an engaged member's health is checked.
	ProbeInterval time.Duration
	// FailureThreshold is how many probes in a row must fail before a Ready
	// member is reported unavailable (default 3): one lost probe is no outage.
	FailureThreshold int
	// InitialBackoff and MaxBackoff shape retries after a failed attempt.
	InitialBackoff, MaxBackoff time.Duration
	// OnEngage, if set, runs after a member is connected and before its
	// controllers start, e.g. to install CRDs. An error fails the attempt.
	OnEngage func(ctx context.Context, name string, cl cluster.Cluster) error
	// InstallCRDs, if set, is called while a member lacks some kinds, before
	// each probe, to install them (the hub's --install-crds).
	InstallCRDs func(ctx context.Context, cfg *rest.Config) error
	// OnRemove, if set, runs after a member is removed, or handed to another
	// replica's shard (e.g. to drop its metrics).
	OnRemove func(name string)
	// ReplicaID names this replica on the Secrets of the members it serves
	// (membersecret.AnnotationReplica).
	ReplicaID string
	// Owns, if set, says whether a member is this replica's to serve (hub
	// sharding). A member it does not own is neither connected to, cached nor
	// reported on; the owning replica does all of that.
	Owns func(name string) bool
	// OwnershipInterval is how often a member owned elsewhere is checked for
	// a change of owner (default 2s).
	OwnershipInterval time.Duration
	// SkipNameValidation allows several providers in one process (tests).
	SkipNameValidation bool
}

// Provider discovers members from kubeconfig Secrets and engages them.
type Provider struct {
	opts     Options
	log      logr.Logger
	hub      client.Client
	recorder events.EventRecorder
	metrics  *memberMetrics

	started chan struct{} // closed once Start has set runCtx and aware
	runCtx  context.Context
	aware   multicluster.Aware

	mu      sync.RWMutex
	members map[string]*member
	// identities maps a cluster identity to the member holding it.
	identities map[string]string
}

// ErrMemberUnavailable is returned by Get for a member that is engaged but
// has stopped answering. Unlike multicluster.ErrClusterNotFound it does not
// drop the request: the reconcile fails at once (holding no worker) and is
// retried with backoff, so nothing is lost when the member comes back.
var ErrMemberUnavailable = errors.New("member cluster is unavailable")

var (
	_ multicluster.Provider         = &Provider{}
	_ multicluster.ProviderRunnable = &Provider{}
)

// New returns a provider; call SetupWithManager before starting the manager.
func New(opts Options) *Provider {
	if opts.EngageTimeout <= 0 {
		opts.EngageTimeout = 30 * time.Second
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = 30 * time.Second
	}
	if opts.FailureThreshold <= 0 {
		opts.FailureThreshold = 3
	}
	if opts.InitialBackoff <= 0 {
		opts.InitialBackoff = time.Second
	}
	if opts.OwnershipInterval <= 0 {
		opts.OwnershipInterval = 2 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 2 * time.Minute
	}
	if opts.Defaults.QPS <= 0 {
		opts.Defaults.QPS = 50
	}
	if opts.Defaults.Burst <= 0 {
		opts.Defaults.Burst = 100
	}
	if opts.Defaults.RequestTimeout <= 0 {
		opts.Defaults.RequestTimeout = 30 * time.Second
	}
	return &Provider{
		opts:       opts,
		log:        ctrl.Log.WithName("kubeconfig-provider"),
		metrics:    defaultMetrics(),
		members:    map[string]*member{},
		identities: map[string]string{},
		started:    make(chan struct{}),
	}
}

// SetupWithManager watches the hub namespace's member Secrets.
func (p *Provider) SetupWithManager(mgr mcmanager.Manager) error {
	if p.opts.Namespace == "" {
		return errors.New("kubeconfig provider: namespace is required")
	}
	local := mgr.GetLocalManager()
	p.hub = local.GetClient()
	p.recorder = local.GetEventRecorder("fleethub")
	return ctrl.NewControllerManagedBy(local).
		Named("member-secrets").
		For(&corev1.Secret{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			// Unlabelled Secrets still pass, so a member whose Secret loses
			// its label is disengaged too.
			return o.GetNamespace() == p.opts.Namespace
		}))).
		WithOptions(controller.Options{SkipNameValidation: &p.opts.SkipNameValidation}).
		Complete(p)
}

// Start is called by the multicluster manager once this replica leads (every
// replica, with sharding). Member goroutines live in its context; when it
// ends, every member is disengaged.
func (p *Provider) Start(ctx context.Context, aware multicluster.Aware) error {
	p.runCtx, p.aware = ctx, aware
	close(p.started)
	<-ctx.Done()
	p.mu.RLock()
	names := make([]string, 0, len(p.members))
	for n := range p.members {
		names = append(names, n)
	}
	p.mu.RUnlock()
	for _, n := range names {
		p.remove(n, "manager stopping")
	}
	return nil
}

// InstallCRDs sets Options.InstallCRDs; call it before the manager starts.
func (p *Provider) InstallCRDs(install func(ctx context.Context, cfg *rest.Config) error) {
	p.opts.InstallCRDs = install
}

// Get returns an engaged member. A member that is connecting, unreachable or
// rejected is not returned, so nothing reconciles against it.
func (p *Provider) Get(_ context.Context, name multicluster.ClusterName) (cluster.Cluster, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	m, ok := p.members[string(name)]
	if !ok || m.engaged == nil {
		return nil, multicluster.ErrClusterNotFound
	}
	if !m.available {
		return nil, fmt.Errorf("%w: %s is %s (%s)", ErrMemberUnavailable, name, m.state.State, m.state.Reason)
	}
	return m.engaged, nil
}

// IndexField is not used by fleethub's controllers; indexes would have to be
// replayed on every member, so refuse rather than silently miss members.
func (p *Provider) IndexField(context.Context, client.Object, string, client.IndexerFunc) error {
	return errors.New("kubeconfig provider: field indexes are not supported")
}

// KindFilter engages a controller only in members that have its kind's CRD.
// Use it on For and every Owns of the controller of that kind.
func (p *Provider) KindFilter(kind string) mcbuilder.EngageOptions {
	return mcbuilder.WithClusterFilter(func(name multicluster.ClusterName, cl cluster.Cluster) bool {
		p.mu.RLock()
		defer p.mu.RUnlock()
		m, ok := p.members[string(name)]
		return ok && m.engaged == cl && m.kinds[kind]
	})
}

// Members lists the registered member names and whether each is engaged
// and available to reconcilers.
func (p *Provider) Members() map[string]bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make(map[string]bool, len(p.members))
	for n, m := range p.members {
		out[n] = m.engaged != nil && m.available
	}
	return out
}

// MemberState reports a member's current state and the kinds engaged there.
func (p *Provider) MemberState(name string) (membersecret.State, []string, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	m, ok := p.members[name]
	if !ok {
		return "", nil, false
	}
	return m.state.State, sortedKinds(m.kinds), true
}

// Reconcile keeps the member named by one Secret in line with that Secret.
func (p *Provider) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	select {
	case <-p.started:
	case <-ctx.Done():
		return ctrl.Result{}, ctx.Err()
	}
	name := req.Name
	log := p.log.WithValues("cluster", name, "secret", req.String())

	secret := &corev1.Secret{}
	if err := p.hub.Get(ctx, req.NamespacedName, secret); err != nil {
		if apierrors.IsNotFound(err) {
			p.remove(name, "Secret deleted")
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !secret.DeletionTimestamp.IsZero() || secret.Labels[membersecret.Label] != "true" {
		p.remove(name, "Secret deleted or no longer labelled "+membersecret.Label)
		return ctrl.Result{}, nil
	}

	// Everything that shapes the connection: a change to any of it reconnects.
	raw := secret.Data[membersecret.Key]
	fingerprint := hashOf(raw, secret.Annotations[membersecret.AnnotationContext], secret.Annotations[membersecret.AnnotationQPS],
		secret.Annotations[membersecret.AnnotationBurst], secret.Annotations[membersecret.AnnotationTimeout])
	p.mu.RLock()
	cur, ok := p.members[name]
	p.mu.RUnlock()
	if ok && cur.fingerprint == fingerprint {
		return ctrl.Result{}, nil
	}
	if ok {
		p.remove(name, "kubeconfig or connection settings changed")
	}

	m := p.newMember(name, fingerprint, secret)
	p.mu.Lock()
	p.members[name] = m
	p.mu.Unlock()

	cfg, settings, err := p.restConfig(name, raw, secret.Annotations)
	if err != nil {
		var rej *Rejection
		if !errors.As(err, &rej) {
			rej = &Rejection{Reason: ReasonMalformedKubeconfig, Message: err.Error()}
		}
		// Bad input: say so where the platform team looks (the replica
		// serving the member does). A fix to the Secret re-triggers this
		// reconcile.
		if p.owns(name) {
			log.Error(err, "Member kubeconfig Secret refused", "reason", rej.Reason)
			p.recorder.Eventf(secret, nil, corev1.EventTypeWarning, membersecret.ReasonInvalidKubeconfig, "Register", "%s: %s", rej.Reason, rej.Message)
			m.setState(ctx, memberState{State: membersecret.StateRejected, Reason: rej.Reason, Message: rej.Message})
		}
		close(m.done)
		return ctrl.Result{}, nil
	}
	mctx, cancel := context.WithCancel(p.runCtx)
	m.cancel = cancel
	go m.run(mctx, cfg, settings)
	log.Info("Member registered; connecting")
	return ctrl.Result{}, nil
}

// restConfig builds the member's client configuration from the Secret.
func (p *Provider) restConfig(name string, raw []byte, annotations map[string]string) (*rest.Config, ClientSettings, error) {
	settings, err := Settings(annotations, p.opts.Defaults)
	if err != nil {
		return nil, settings, err
	}
	cfg, err := Parse(raw, annotations[membersecret.AnnotationContext], p.opts.Policy)
	if err != nil {
		return nil, settings, err
	}
	cfg.QPS = settings.QPS
	cfg.Burst = settings.Burst
	if cfg.UserAgent == "" {
		cfg.UserAgent = "fleethub/" + name
	}
	// Bound every request but watches, which are long-lived by design.
	timeout := settings.RequestTimeout
	cfg.Wrap(func(rt httpRoundTripper) httpRoundTripper { return timeoutTransport{next: rt, timeout: timeout} })
	// Only the named server is ever contacted: no redirect elsewhere. (No
	// custom dialer for the link-local check: client-go would then build a
	// transport, and idle connections, per client instead of per member.)
	server, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, settings, reject(ReasonMalformedKubeconfig, "server %q is not a URL", cfg.Host)
	}
	host := strings.ToLower(server.Host)
	cfg.Wrap(func(rt httpRoundTripper) httpRoundTripper { return sameHostTransport{next: rt, host: host} })
	if p.opts.RESTConfig != nil {
		p.opts.RESTConfig(name, cfg)
	}
	return cfg, settings, nil
}

// remove stops a member: its context ends, which stops its cache and every
// controller watch on it. Objects in the member are left alone.
func (p *Provider) remove(name, why string) {
	p.mu.Lock()
	m, ok := p.members[name]
	delete(p.members, name)
	p.releaseLocked(name)
	p.mu.Unlock()
	if !ok {
		return
	}
	if m.cancel != nil {
		m.cancel()
	}
	<-m.done
	p.forget(name)
	p.log.Info("Member disengaged", "cluster", name, "why", why)
}

// owns reports whether this replica serves the member (always, unsharded).
func (p *Provider) owns(name string) bool {
	return p.opts.Owns == nil || p.opts.Owns(name)
}

// forget drops what this replica keeps about a member it no longer serves.
func (p *Provider) forget(name string) {
	p.metrics.forget(name)
	if p.opts.OnRemove != nil {
		p.opts.OnRemove(name)
	}
}

func hashOf(parts ...any) string {
	h := sha256.New()
	for _, part := range parts {
		fmt.Fprintf(h, "%d:", len(fmt.Sprint(part)))
		fmt.Fprint(h, part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sortedKinds(kinds map[string]bool) []string {
	out := make([]string, 0, len(kinds))
	for k, ok := range kinds {
		if ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func kindList(kinds map[string]bool) string { return strings.Join(sortedKinds(kinds), ",") }
