// Package kubeconfig is fleethub's cluster provider: every labelled Secret in
// the hub namespace holding a kubeconfig becomes an engaged member cluster.
//
// It follows multicluster-runtime's kubeconfig provider conventions (label
// sigs.k8s.io/multicluster-runtime-kubeconfig: "true", data key "kubeconfig",
// cluster name = Secret name), so Secrets made by upstream tooling work. Unlike
// the reference provider, each member connects in its own goroutine with a
// deadline and retries with backoff, so one slow or broken member never holds
// up the Secret controller or any other member.
package kubeconfig

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	mcmanager "sigs.k8s.io/multicluster-runtime/pkg/manager"
	"sigs.k8s.io/multicluster-runtime/pkg/multicluster"
)

const (
	// SecretLabel marks a hub Secret as a member kubeconfig (upstream's label).
	SecretLabel = "sigs.k8s.io/multicluster-runtime-kubeconfig"
	// SecretKey is the data key holding the kubeconfig (upstream's key).
	SecretKey = "kubeconfig"
)

// Event reasons on member Secrets.
const (
	ReasonInvalidKubeconfig = "InvalidKubeconfig"
	ReasonEngaged           = "Engaged"
	ReasonEngageFailed      = "EngageFailed"
	ReasonDisengaged        = "Disengaged"
)

// Hub permissions of the provider (deploy/rbac): Secrets and Events in the hub namespace only.
// +kubebuilder:rbac:groups="",namespace=fleethub-system,resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,namespace=fleethub-system,resources=events,verbs=create;patch

// Options configure the provider.
type Options struct {
	// Namespace is the hub namespace whose labelled Secrets are members.
	Namespace string
	// ClusterOptions configure each member's cluster (scheme, cache filters).
	ClusterOptions []cluster.Option
	// RESTConfig, if set, adjusts each member's rest.Config before use (rate
	// limits, transport wrappers). It must not block.
	RESTConfig func(name string, cfg *rest.Config)
	// EngageTimeout bounds one attempt to connect to and engage a member.
	EngageTimeout time.Duration
	// Backoff is the retry schedule after a failed attempt (doubling, capped).
	InitialBackoff, MaxBackoff time.Duration
}

// Provider discovers members from kubeconfig Secrets and engages them.
type Provider struct {
	opts     Options
	log      logr.Logger
	hub      client.Client
	recorder events.EventRecorder

	started chan struct{} // closed once Start has set runCtx and aware
	runCtx  context.Context
	aware   multicluster.Aware

	mu      sync.RWMutex
	members map[string]*member
}

// member is one registered cluster, engaged or still connecting.
type member struct {
	hash    string
	cluster cluster.Cluster
	cancel  context.CancelFunc
	done    chan struct{}
	engaged bool
}

var (
	_ multicluster.Provider         = &Provider{}
	_ multicluster.ProviderRunnable = &Provider{}
)

// New returns a provider; call SetupWithManager before starting the manager.
func New(opts Options) *Provider {
	if opts.EngageTimeout <= 0 {
		opts.EngageTimeout = 30 * time.Second
	}
	if opts.InitialBackoff <= 0 {
		opts.InitialBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 2 * time.Minute
	}
	return &Provider{
		opts:    opts,
		log:     ctrl.Log.WithName("kubeconfig-provider"),
		members: map[string]*member{},
		started: make(chan struct{}),
	}
}

// Start is called by the multicluster manager once this replica leads. Member
// goroutines live in its context; when it ends, every member is disengaged.
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
			// Deleted or unlabelled Secrets still pass, so a member whose
			// Secret loses its label is disengaged too.
			return o.GetNamespace() == p.opts.Namespace
		}))).
		Complete(p)
}

// Get returns an engaged member. A member that is still connecting is not
// returned, so nothing reconciles against a cluster that is not there yet.
func (p *Provider) Get(_ context.Context, name multicluster.ClusterName) (cluster.Cluster, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	m, ok := p.members[string(name)]
	if !ok || !m.engaged {
		return nil, multicluster.ErrClusterNotFound
	}
	return m.cluster, nil
}

// IndexField is not used by fleethub's controllers; indexes would have to be
// replayed on every member, so refuse rather than silently miss members.
func (p *Provider) IndexField(context.Context, client.Object, string, client.IndexerFunc) error {
	return errors.New("kubeconfig provider: field indexes are not supported")
}

// Members lists the registered member names and whether each is engaged.
func (p *Provider) Members() map[string]bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make(map[string]bool, len(p.members))
	for n, m := range p.members {
		out[n] = m.engaged
	}
	return out
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
	if !secret.DeletionTimestamp.IsZero() || secret.Labels[SecretLabel] != "true" {
		p.remove(name, "Secret deleted or no longer labelled "+SecretLabel)
		return ctrl.Result{}, nil
	}

	raw := secret.Data[SecretKey]
	cfg, err := parse(raw)
	if err != nil {
		// Bad input: say so where the platform team looks, and stop using
		// whatever the Secret held before. A fix to the Secret re-triggers us.
		log.Error(err, "Member kubeconfig Secret is invalid")
		p.recorder.Eventf(secret, nil, corev1.EventTypeWarning, ReasonInvalidKubeconfig, "Register", "%v", err)
		p.remove(name, "kubeconfig invalid")
		return ctrl.Result{}, nil
	}

	hash := hashOf(raw)
	p.mu.RLock()
	cur, ok := p.members[name]
	p.mu.RUnlock()
	if ok && cur.hash == hash {
		return ctrl.Result{}, nil
	}
	if ok {
		p.remove(name, "kubeconfig changed")
	}
	if p.opts.RESTConfig != nil {
		p.opts.RESTConfig(name, cfg)
	}
	cl, err := cluster.New(cfg, p.opts.ClusterOptions...)
	if err != nil {
		log.Error(err, "Cannot build a client for the member")
		p.recorder.Eventf(secret, nil, corev1.EventTypeWarning, ReasonInvalidKubeconfig, "Register", "cannot build a client: %v", err)
		return ctrl.Result{}, nil
	}

	mctx, cancel := context.WithCancel(p.runCtx)
	m := &member{hash: hash, cluster: cl, cancel: cancel, done: make(chan struct{})}
	p.mu.Lock()
	p.members[name] = m
	p.mu.Unlock()
	go p.run(mctx, name, m, secret.DeepCopy(), cfg)
	log.Info("Member registered; connecting")
	return ctrl.Result{}, nil
}

// run owns one member's lifetime: start its cache, connect with a deadline,
// engage, and retry with backoff on failure, until the member is removed.
func (p *Provider) run(ctx context.Context, name string, m *member, secret *corev1.Secret, cfg *rest.Config) {
	defer close(m.done)
	log := p.log.WithValues("cluster", name)

	cacheErr := make(chan error, 1)
	go func() { cacheErr <- m.cluster.Start(ctx) }()

	backoff := wait.Backoff{Duration: p.opts.InitialBackoff, Factor: 2, Jitter: 0.1, Steps: 64, Cap: p.opts.MaxBackoff}
	for {
		err := p.engage(ctx, name, m, cfg)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		delay := backoff.Step()
		log.Error(err, "Engaging member failed; retrying", "retryIn", delay.Round(time.Millisecond).String())
		p.recorder.Eventf(secret, nil, corev1.EventTypeWarning, ReasonEngageFailed, "Engage", "%v (retrying in %s)", err, delay.Round(time.Second))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
	log.Info("Member engaged")
	p.recorder.Eventf(secret, nil, corev1.EventTypeNormal, ReasonEngaged, "Engage", "Member cluster %s engaged", name)

	select {
	case <-ctx.Done():
	case err := <-cacheErr:
		if err != nil && ctx.Err() == nil {
			log.Error(err, "Member cache stopped")
		}
	}
}

// engage makes one bounded attempt: the member must answer, then every
// multicluster controller starts watching it.
func (p *Provider) engage(ctx context.Context, name string, m *member, cfg *rest.Config) error {
	actx, cancel := context.WithTimeout(ctx, p.opts.EngageTimeout)
	defer cancel()

	dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return fmt.Errorf("building discovery client: %w", err)
	}
	probe := make(chan error, 1)
	go func() {
		_, err := dc.ServerVersion()
		probe <- err
	}()
	select {
	case err := <-probe:
		if err != nil {
			return fmt.Errorf("member apiserver unreachable: %w", err)
		}
	case <-actx.Done():
		return fmt.Errorf("member apiserver did not answer within %s", p.opts.EngageTimeout)
	}
	if !m.cluster.GetCache().WaitForCacheSync(actx) {
		return fmt.Errorf("member cache did not sync within %s", p.opts.EngageTimeout)
	}
	// Visible to Get before controllers start watching: their first
	// reconciles look the cluster up, and a miss would drop the request.
	p.setEngaged(name, m, true)
	if err := p.aware.Engage(ctx, multicluster.ClusterName(name), m.cluster); err != nil {
		p.setEngaged(name, m, false)
		return fmt.Errorf("engaging controllers: %w", err)
	}
	return nil
}

func (p *Provider) setEngaged(name string, m *member, engaged bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.members[name] == m {
		m.engaged = engaged
	}
}

// remove disengages a member: its context ends, which stops its cache and
// every controller watch on it. Objects in the member are left alone.
func (p *Provider) remove(name, why string) {
	p.mu.Lock()
	m, ok := p.members[name]
	delete(p.members, name)
	p.mu.Unlock()
	if !ok {
		return
	}
	m.cancel()
	<-m.done
	p.log.Info("Member disengaged", "cluster", name, "why", why)
}

// parse turns Secret data into a rest.Config, with errors a person can act on.
func parse(raw []byte) (*rest.Config, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("data key %q is missing or empty", SecretKey)
	}
	cc, err := clientcmd.Load(raw)
	if err != nil {
		return nil, fmt.Errorf("data key %q is not a valid kubeconfig: %w", SecretKey, err)
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*cc, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig under %q is unusable: %w", SecretKey, err)
	}
	return cfg, nil
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
