// Package domainmanager reconciles DomainManagers in every engaged member
// cluster into one DNS record each at the hub's DNS provider (Cloudflare),
// through one provider client shared by all members.
//
// Safety rules: every record fleethub writes carries an owner marker in its
// comment (pkg/dns.Marker); a record without our marker, or with another
// owner's, is never modified or deleted (unless adopted on request). Two
// DomainManagers claiming one name are ordered by the claim registry: the
// earlier one owns it, the other reports Conflict and writes nothing, and
// takes over when the first is gone.
package domainmanager

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	mcbuilder "sigs.k8s.io/multicluster-runtime/pkg/builder"
	mcmanager "sigs.k8s.io/multicluster-runtime/pkg/manager"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/pkg/finalizer"
	"github.com/fleethub/fleethub/pkg/logging"
	"github.com/fleethub/fleethub/pkg/metrics"
	"github.com/fleethub/fleethub/pkg/observe"
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
	// HubNamespace holds the member kubeconfig Secrets (policy annotations)
	// and the credentials Secret.
	HubNamespace string
	// CredentialsSecret is the name of the Secret holding the provider's
	// credentials; it is watched and handed to the provider on every change.
	CredentialsSecret string
	// DefaultAllowedSuffixes applies to members whose Secret has no
	// AnnotationDNSAllowedSuffixes ("*" allows any name; empty allows none).
	DefaultAllowedSuffixes []string
	// ResyncInterval re-checks converged DomainManagers (reads only, served
	// from the provider's per-zone cache).
	ResyncInterval time.Duration
	// RateLimitBackoff is the least wait after the provider rate-limits us (60s).
	RateLimitBackoff time.Duration
	// SlowRetry is the wait after missing or rejected credentials (5m).
	SlowRetry time.Duration

	claims *Registry
	notify *notifier
	// hub reads the hub namespace (member Secrets) from the hub's cache.
	hub client.Reader
	// locks serialize reconciles of one name (hashed), so two DomainManagers
	// racing for a name in this process cannot both create it.
	locks [64]sync.Mutex
}

// SetupWithManager registers the controller, the hub-side watch of the
// credentials and member Secrets, and the claim bookkeeping of disengaged
// members. engage selects the members to watch (those with the CRD).
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
	r.Manager = mgr
	r.init(mgr.GetLocalManager().GetClient())

	if err := mgr.Add(&engagement{r: r, live: map[string]context.Context{}}); err != nil {
		return err
	}
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
func (r *Reconciler) init(hub client.Reader) {
	r.hub = hub
	r.claims = NewRegistry()
	r.notify = newNotifier()
}

func (r *Reconciler) policy() retryPolicy {
	return retryPolicy{Resync: r.ResyncInterval, RateLimited: r.RateLimitBackoff, Slow: r.SlowRetry}
}

// Reconcile keeps one DomainManager's record at the provider and reports status.
func (r *Reconciler) Reconcile(ctx context.Context, req mcreconcile.Request) (res ctrl.Result, err error) {
	ctx, done := observe.Reconcile(ctx, "DomainManager", req)
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
			r.notify.add(r.claims.Delete(key)...)
			metrics.Forget(cluster, "DomainManager", req.String())
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
	metrics.Observe(cluster, "DomainManager", req.String(), meta.IsStatusConditionTrue(computeStatus(dm, obs, metav1.Now()).Conditions, v1alpha1.ConditionReady))
	if err := r.writeStatus(ctx, c, rec, dm, obs); err != nil {
		return ctrl.Result{}, errors.Join(obs.Err, err)
	}
	if obs.Err != nil && dns.KindOf(obs.Err) != dns.KindRateLimited {
		log.Info("DNS provider call failed", "error", obs.Err.Error(), "kind", dns.KindOf(obs.Err))
	}
	return r.policy().result(obs.Err)
}

// writeStatus patches the status when it changed, with an Event when Ready flips.
func (r *Reconciler) writeStatus(ctx context.Context, c client.Client, rec events.EventRecorder, dm *v1alpha1.DomainManager, obs observed) error {
	status := computeStatus(dm, obs, metav1.Now())
	if equality.Semantic.DeepEqual(dm.Status, status) {
		return nil
	}
	was := meta.FindStatusCondition(dm.Status.Conditions, v1alpha1.ConditionReady)
	orig := dm.DeepCopy()
	dm.Status = status
	if err := c.Status().Patch(ctx, dm, client.MergeFrom(orig)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("writing status: %w", err)
	}
	now := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionReady)
	if was == nil || was.Status != now.Status || was.Reason != now.Reason {
		typ := corev1.EventTypeNormal
		if now.Status != metav1.ConditionTrue {
			typ = corev1.EventTypeWarning
		}
		rec.Eventf(dm, nil, typ, now.Reason, "Ready", "Ready=%s: %s", now.Status, now.Message)
	}
	return nil
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

// allowedSuffixes is the hub policy for a member: the annotation on its
// kubeconfig Secret (the Secret's name is the cluster's), else the default.
func (r *Reconciler) allowedSuffixes(ctx context.Context, cluster string) ([]string, error) {
	s := &corev1.Secret{}
	err := r.hub.Get(ctx, client.ObjectKey{Namespace: r.HubNamespace, Name: cluster}, s)
	switch {
	case apierrors.IsNotFound(err):
		return r.DefaultAllowedSuffixes, nil
	case err != nil:
		return nil, fmt.Errorf("reading the policy of cluster %s: %w", cluster, err)
	}
	if v, ok := s.Annotations[v1alpha1.AnnotationDNSAllowedSuffixes]; ok {
		return dns.ParseSuffixes(v), nil
	}
	return r.DefaultAllowedSuffixes, nil
}

// sync brings the provider in line with one DomainManager.
func (r *Reconciler) sync(ctx context.Context, log logr.Logger, rec events.EventRecorder, cluster string, dm *v1alpha1.DomainManager) observed {
	spec := dns.Spec{Name: dm.Spec.DomainName, Type: string(dm.Spec.RecordType), Value: dm.Spec.Value, TTL: int(dm.Spec.TTL), Proxied: dm.Spec.Proxied, Zone: dm.Spec.Zone}
	fqdn := dns.NormalizeName(spec.Name)
	obs := observed{Cluster: cluster, FQDN: fqdn, KeepRecordID: true}
	key := dns.ClaimKey{Cluster: cluster, Namespace: dm.Namespace, Name: dm.Name}
	claim := dns.Claim{Key: key, FQDN: fqdn, Type: spec.Type, Created: dm.CreationTimestamp.Time}

	if err := dns.Validate(spec); err != nil {
		r.notify.add(r.claims.Put(claim, false)...)
		obs.Outcome, obs.Invalid = outcomeInvalid, err
		return obs
	}
	allowed, err := r.allowedSuffixes(ctx, cluster)
	if err != nil {
		obs.Outcome, obs.Err = outcomeProviderError, err
		return obs
	}
	if !dns.Allowed(fqdn, allowed) {
		r.notify.add(r.claims.Put(claim, false)...)
		obs.Outcome, obs.Allowed = outcomeNotAllowed, allowed
		return obs
	}
	r.notify.add(r.claims.Put(claim, true)...)

	defer r.lock(fqdn)()
	owner := r.owner(cluster, dm)

	fail := func(err error) observed {
		obs.Outcome, obs.Err = outcomeProviderError, err
		return obs
	}
	zone, err := r.Provider.FindZone(ctx, fqdn, spec.Zone)
	if err != nil {
		return fail(err)
	}
	obs.Zone = zone

	// The record moved to another zone (spec.zone or a new, longer zone):
	// clean up what we own in the old one first.
	if old := dm.Status.ZoneID; old != "" && old != zone.ID {
		if err := r.deleteOwned(ctx, rec, dm, dns.Zone{ID: old, Name: dm.Status.Zone}, owner); err != nil {
			return fail(err)
		}
	}

	records, err := r.Provider.Records(ctx, zone)
	if err != nil {
		return fail(err)
	}

	// Another DomainManager claimed the name first: write nothing, except to
	// hand over a record we hold there (from before the winner was known).
	if winner, blocked := r.claims.BlockedBy(key); blocked {
		obs.Outcome, obs.Winner, obs.KeepRecordID = outcomeClaimConflict, &winner, false
		to := dns.Owner{Hub: r.HubID, Cluster: winner.Key.Cluster, Namespace: winner.Key.Namespace, Name: winner.Key.Name}
		for _, h := range dns.Handover(records, owner, fqdn, to) {
			obs.WroteZone = true
			if _, err := r.Provider.Update(ctx, zone, h); err != nil {
				obs.KeepRecordID = true
				return fail(err)
			}
			obs.Wrote = true
			r.notify.add(winner.Key) // it can take the record over now
			log.Info("Handed the record over to the earlier claimant", "record", h.ID, "to", winner.Key.String())
			rec.Eventf(dm, nil, corev1.EventTypeNormal, "HandedOver", "Conflict", "Handed %s record %s over to %s", h.Type, h.Name, winner.Describe())
		}
		return obs
	}

	in := dns.PlanInput{Desired: dns.Desired(spec), Owner: owner, Adopt: dm.Annotations[v1alpha1.AnnotationDNSAdopt] == "true", PreferID: dm.Status.RecordID, Records: records}
	plan := dns.MakePlan(in)
	if plan.Create != nil {
		// Look before you create: the cached list may predate a record made
		// since (by hand, or by one of our creates that timed out).
		fresh, err := r.Provider.Lookup(ctx, zone, fqdn)
		if err != nil {
			return fail(err)
		}
		in.Records = replaceName(records, fqdn, fresh)
		plan = dns.MakePlan(in)
	}

	for _, d := range plan.Delete {
		obs.WroteZone = true
		if err := r.Provider.Delete(ctx, zone, d.ID); err != nil && dns.KindOf(err) != dns.KindNotFound {
			return fail(err)
		}
		obs.Wrote = true
		log.Info("Deleted a record this DomainManager no longer wants", "record", d.ID, "name", d.Name, "type", d.Type)
		rec.Eventf(dm, nil, corev1.EventTypeNormal, "RecordDeleted", "Delete", "Deleted %s record %s (no longer wanted)", d.Type, d.Name)
	}
	if plan.Blocked != dns.NotBlocked {
		obs.Blocker, obs.KeepRecordID = plan.Blocker, false
		obs.Outcome = outcomeUnmanaged
		if plan.Blocked == dns.BlockedForeign {
			obs.Outcome = outcomeForeign
		}
		return obs
	}
	obs.WroteZone = true
	switch {
	case plan.Current != nil:
		obs.Record = plan.Current
	case len(plan.Update) > 0:
		got, err := r.Provider.Update(ctx, zone, plan.Update[0])
		if err != nil {
			return fail(err)
		}
		obs.Record, obs.Wrote = &got, true
		verb := "Updated"
		if plan.Adopted {
			verb = "Adopted"
		}
		log.Info(verb+" the record", "record", got.ID, "name", got.Name, "type", got.Type)
		rec.Eventf(dm, nil, corev1.EventTypeNormal, "Record"+verb, "Apply", "%s %s record %s → %s", verb, got.Type, got.Name, shorten(got.Content, 80))
	case plan.Create != nil:
		got, err := r.Provider.Create(ctx, zone, *plan.Create)
		if err != nil {
			return fail(err)
		}
		obs.Record, obs.Wrote = &got, true
		log.Info("Created the record", "record", got.ID, "name", got.Name, "type", got.Type)
		rec.Eventf(dm, nil, corev1.EventTypeNormal, "RecordCreated", "Apply", "Created %s record %s → %s", got.Type, got.Name, shorten(got.Content, 80))
	}
	obs.Outcome = outcomeSynced
	return obs
}

func replaceName(records []dns.Record, name string, fresh []dns.Record) []dns.Record {
	out := make([]dns.Record, 0, len(records)+len(fresh))
	for _, r := range records {
		if !dns.SameName(r.Name, name) {
			out = append(out, r)
		}
	}
	return append(out, fresh...)
}

// deleteOwned deletes every record in zone that carries owner's marker. A
// zone or record that is already gone counts as done.
func (r *Reconciler) deleteOwned(ctx context.Context, rec events.EventRecorder, dm *v1alpha1.DomainManager, zone dns.Zone, owner dns.Owner) error {
	records, err := r.Provider.Records(ctx, zone)
	if dns.KindOf(err) == dns.KindNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	for _, d := range dns.Owned(records, owner) {
		if err := r.Provider.Delete(ctx, zone, d.ID); err != nil && dns.KindOf(err) != dns.KindNotFound {
			return err
		}
		rec.Eventf(dm, nil, corev1.EventTypeNormal, "RecordDeleted", "Delete", "Deleted %s record %s", d.Type, d.Name)
	}
	return nil
}

// finalize deletes the record this DomainManager owns (only if it owns it),
// then releases the finalizer. While the provider fails the finalizer stays
// and Ready says why; the Orphan deletion policy leaves the record instead.
func (r *Reconciler) finalize(ctx context.Context, c client.Client, rec events.EventRecorder, cluster string, dm *v1alpha1.DomainManager) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	if !controllerutil.ContainsFinalizer(dm, v1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	key := dns.ClaimKey{Cluster: cluster, Namespace: dm.Namespace, Name: dm.Name}
	orphan := dm.Annotations[v1alpha1.AnnotationDNSDeletionPolicy] == v1alpha1.DNSDeletionPolicyOrphan
	// Nothing was ever written unless a zone is recorded in status.
	if !orphan && dm.Status.ZoneID != "" {
		unlock := r.lock(dm.Status.FQDN)
		err := r.deleteOwned(ctx, rec, dm, dns.Zone{ID: dm.Status.ZoneID, Name: dm.Status.Zone}, r.owner(cluster, dm))
		unlock()
		if err != nil {
			obs := observed{Cluster: cluster, FQDN: dm.Status.FQDN, KeepRecordID: true, Outcome: outcomeProviderError, Err: err, Deleting: true}
			if serr := r.writeStatus(ctx, c, rec, dm, obs); serr != nil {
				return ctrl.Result{}, errors.Join(err, serr)
			}
			log.Info("Cannot delete the record yet; keeping the finalizer", "error", err.Error())
			return r.policy().result(err)
		}
	}
	if err := finalizer.Remove(ctx, c, dm); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}
	// Only now may the next claimant take the name over.
	r.notify.add(r.claims.Delete(key)...)
	if orphan {
		log.Info("DomainManager deleted; record left in place (deletion policy Orphan)")
	} else {
		log.Info("DomainManager deleted; its record is gone")
	}
	return ctrl.Result{}, nil
}

// requeueAll queues every DomainManager the hub knows (credentials changed).
func (r *Reconciler) requeueAll() { r.notify.add(r.claims.Keys("")...) }

// requeueCluster queues one member's DomainManagers (its policy changed).
func (r *Reconciler) requeueCluster(cluster string) { r.notify.add(r.claims.Keys(cluster)...) }
