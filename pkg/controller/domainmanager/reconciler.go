// Package domainmanager reconciles DomainManagers in every engaged member
// cluster into one DNS record each at the hub's DNS provider (Cloudflare),
// through one provider client shared by all members.
//
// Safety rules: every record fleethub writes carries an owner marker in its
// comment (pkg/dns.Marker); a record without our marker, or with another
// owner's, is never modified or deleted (unless adopted where hub policy
// allows it). Which DomainManager holds a name is hub state: a claim object
// in the hub namespace, persisted before the first provider write (the first
// persisted wins; claimstore.go, claim.go). What a member may claim is the
// hub's DNS policy (members.go). Files by phase: admit.go, claim.go,
// apply.go, finalize.go; sync.go strings them together.
package domainmanager

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	mcbuilder "sigs.k8s.io/multicluster-runtime/pkg/builder"
	mcmanager "sigs.k8s.io/multicluster-runtime/pkg/manager"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/pkg/finalizer"
	"github.com/fleethub/fleethub/pkg/logging"
	"github.com/fleethub/fleethub/pkg/memberleft"
	"github.com/fleethub/fleethub/pkg/metrics"
	"github.com/fleethub/fleethub/pkg/reconciler"
)

// Member-cluster permissions of the hub identity (deploy/member/rbac).
// +kubebuilder:rbac:groups=app.54b3r.io,resources=domainmanagers,verbs=get;list;watch;patch;update
// +kubebuilder:rbac:groups=app.54b3r.io,resources=domainmanagers/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=app.54b3r.io,resources=domainmanagers/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconciler reconciles DomainManagers in the member cluster each request names.
type Reconciler struct {
	Manager mcmanager.Manager
	// Provider is the one DNS provider client of the hub.
	Provider dns.Provider
	// HubID names this hub in owner markers.
	HubID string
	// HubNamespace holds the member kubeconfig Secrets (member identities),
	// the credentials Secret, the DNS policy and the claims.
	HubNamespace string
	// CredentialsSecret is the name of the Secret holding the provider's
	// credentials; it is watched and handed to the provider on every change.
	CredentialsSecret string
	// DefaultAllowedSuffixes applies when the policy ConfigMap is absent or
	// has no default and no entry for a member ("*" allows any name; empty
	// allows none); it grants no wildcard, apex, underscore or adoption.
	DefaultAllowedSuffixes []string
	// PolicyConfigMap names the hub DNS policy ConfigMap (key policy.yaml).
	PolicyConfigMap string
	// ClaimGracePeriod is how long a holder's member may stay unregistered
	// before its claims pass on (24h).
	ClaimGracePeriod time.Duration
	// ResyncInterval re-checks converged DomainManagers (reads only, served
	// from the provider's per-zone cache).
	ResyncInterval time.Duration
	// RateLimitBackoff is the least wait after the provider rate-limits us (60s).
	RateLimitBackoff time.Duration
	// SlowRetry is the wait after missing or rejected credentials (5m).
	SlowRetry time.Duration
	// MemberLeft is told when a member leaves the fleet; nil keeps its
	// DomainManagers indexed (unit tests).
	MemberLeft *memberleft.Hooks

	store  *claimStore
	index  *index
	notify *notifier
	// hub reads the hub namespace (member Secrets, policy) from the hub's cache.
	hub client.Reader
	// locks serialize reconciles of one name (hashed), so two DomainManagers
	// racing for a name in this process cannot both create it.
	locks [64]sync.Mutex
}

// SetupWithManager registers the controller, the hub-side watch of the
// credentials and member Secrets, and the index bookkeeping of members that
// leave. engage selects the members to watch (those with the CRD).
func (r *Reconciler) SetupWithManager(mgr mcmanager.Manager, opts controller.TypedOptions[mcreconcile.Request], engage mcbuilder.EngageOptions) error {
	if r.Provider == nil {
		return errors.New("domainmanager: a DNS provider is required")
	}
	if r.HubID == "" || strings.Contains(r.HubID, "/") || strings.ContainsAny(r.HubID, " \t\n") {
		return fmt.Errorf("domainmanager: hub id %q must be non-empty without '/' or spaces", r.HubID)
	}
	if r.ResyncInterval <= 0 {
		r.ResyncInterval = 10 * time.Minute
	}
	if r.RateLimitBackoff <= 0 {
		r.RateLimitBackoff = time.Minute
	}
	if r.SlowRetry <= 0 {
		r.SlowRetry = 5 * time.Minute
	}
	if r.ClaimGracePeriod <= 0 {
		r.ClaimGracePeriod = 24 * time.Hour
	}
	r.Manager = mgr
	local := mgr.GetLocalManager()
	r.init(local.GetClient(), local.GetAPIReader(), local.GetClient())

	// A member that leaves takes its DomainManagers out of the index; their
	// claims stay at the hub.
	r.MemberLeft.Add(r.index.forgetMember)
	if err := (&hubWatcher{r: r}).setup(mgr.GetLocalManager(), opts.SkipNameValidation); err != nil {
		return err
	}
	return mcbuilder.ControllerManagedBy(mgr).
		Named("domainmanager").
		For(&v1alpha1.DomainManager{}, engage).
		WatchesRawSource(r.notify.source()).
		WithOptions(opts).
		WithLogConstructor(logging.ReconcileLogger(mgr.GetLogger(), "domainmanager", "DomainManager")).
		Complete(r)
}

// init prepares the parts the controller's methods share.
// hub reads through the hub cache, live reads past it, w writes claims.
func (r *Reconciler) init(hub, live client.Reader, w client.Writer) {
	r.hub = hub
	r.store = &claimStore{namespace: r.HubNamespace, cache: hub, live: live, writer: w}
	r.index = newIndex()
	r.notify = newNotifier()
}

func (r *Reconciler) policy() retryPolicy {
	return retryPolicy{Resync: r.ResyncInterval, RateLimited: r.RateLimitBackoff, Slow: r.SlowRetry}
}

// Reconcile keeps one DomainManager's record at the provider and reports status.
func (r *Reconciler) Reconcile(ctx context.Context, req mcreconcile.Request) (res ctrl.Result, err error) {
	ctx, done := reconciler.Instrument(ctx, "DomainManager", req)
	defer func() { done(res, err) }()
	log := ctrl.LoggerFrom(ctx)
	cluster := req.ClusterName.String()
	key := dns.ClaimKey{Cluster: cluster, Namespace: req.Namespace, Name: req.Name}
	cl, err := r.Manager.GetCluster(ctx, req.ClusterName)
	if err != nil {
		return ctrl.Result{}, err
	}
	c := cl.GetClient()
	rec := cl.GetEventRecorder("fleethub")
	ctx = dns.WithCluster(ctx, cluster)

	dm := &v1alpha1.DomainManager{}
	if err := c.Get(ctx, req.NamespacedName, dm); err != nil {
		if apierrors.IsNotFound(err) {
			r.index.delete(key)
			metrics.ForgetObject(cluster, "DomainManager", req.String())
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}

	if !dm.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, c, rec, cluster, dm)
	}

	if err := finalizer.Ensure(ctx, c, dm); err != nil {
		return ctrl.Result{}, err
	}

	obs := r.sync(ctx, log, rec, cluster, dm)
	statusErr := r.writeStatus(ctx, c, rec, dm, obs)
	metrics.RecordObject(cluster, "DomainManager", req.String(), meta.IsStatusConditionTrue(dm.Status.Conditions, v1alpha1.ConditionReady))
	if statusErr != nil {
		// Provider writes are recorded in the hub claim, so a lost status
		// costs nothing but a retry.
		return reconciler.Result(r.ResyncInterval, errors.Join(statusErr, obs.Err))
	}
	if obs.Err != nil && dns.KindOf(obs.Err) != dns.KindRateLimited {
		log.Info("DNS provider call failed", "error", obs.Err.Error(), "kind", dns.KindOf(obs.Err))
	}
	return r.result(key, dm, obs)
}

// writeStatus computes the status from what was observed and writes it
// through the one status writer (optimistic lock, no-op skip), with the
// Ready and Stalled Events when it changed.
func (r *Reconciler) writeStatus(ctx context.Context, c client.Client, rec events.EventRecorder, dm *v1alpha1.DomainManager, obs statusInput) error {
	orig := dm.DeepCopy()
	dm.Status = computeStatus(dm, obs, metav1.Now())
	wrote, err := reconciler.PatchStatus(ctx, c, orig, dm)
	if apierrors.IsNotFound(errors.Unwrap(err)) || apierrors.IsNotFound(err) {
		return nil
	}
	if wrote {
		reconciler.ReadyEvent(rec, dm, orig.Status.Conditions, dm.Status.Conditions)
		reconciler.StalledEvent(rec, dm, orig.Status.Conditions, dm.Status.Conditions)
	}
	return err
}

// owner is the identity the DomainManager's records are marked with.
func (r *Reconciler) owner(cluster string, dm *v1alpha1.DomainManager) dns.Owner {
	return dns.Owner{Hub: r.HubID, Cluster: cluster, Namespace: dm.Namespace, Name: dm.Name}
}

func (r *Reconciler) lock(fqdn string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(fqdn))
	m := &r.locks[h.Sum32()%uint32(len(r.locks))]
	m.Lock()
	return m.Unlock
}

// requeueAll queues every DomainManager the hub knows (credentials or
// policy changed, a member came or went).
func (r *Reconciler) requeueAll() { r.notify.add(r.index.keys("")...) }
