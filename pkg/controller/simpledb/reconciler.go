// Package simpledb reconciles SimpleDBs in every engaged member cluster into a
// single-node PostgreSQL: a credentials Secret, a data PersistentVolumeClaim, a
// Deployment and a Service, created in that order.
//
// Files by concern: reconciler.go (the flow), secret.go (credentials),
// claim.go (data claim), ownership.go (who owns the data, adoption),
// finalize.go (deletion and Retain), status.go (conditions), desired.go
// (pure builders).
package simpledb

import (
	"context"
	"errors"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	mcbuilder "sigs.k8s.io/multicluster-runtime/pkg/builder"
	mcmanager "sigs.k8s.io/multicluster-runtime/pkg/manager"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/apply"
	"github.com/fleethub/fleethub/pkg/finalizer"
	"github.com/fleethub/fleethub/pkg/logging"
	"github.com/fleethub/fleethub/pkg/metrics"
	"github.com/fleethub/fleethub/pkg/reconciler"
	"github.com/fleethub/fleethub/pkg/tracing"
)

const kindName = "SimpleDB"

// Member-cluster permissions of the hub identity (deploy/member/rbac).
// +kubebuilder:rbac:groups=app.54b3r.io,resources=simpledbs,verbs=get;list;watch;patch;update
// +kubebuilder:rbac:groups=app.54b3r.io,resources=simpledbs/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=app.54b3r.io,resources=simpledbs/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch;update;delete
// +kubebuilder:rbac:groups="",resources=secrets;services;persistentvolumeclaims,verbs=get;list;watch;create;patch;update;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=list
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconciler reconciles SimpleDBs in the member cluster each request names.
type Reconciler struct {
	Manager mcmanager.Manager
	// ResyncInterval re-reconciles a converged SimpleDB to catch drift that
	// no watch reported; it costs reads only.
	ResyncInterval time.Duration
	// ImageRepository of PostgreSQL; the tag is the SimpleDB's major version.
	// DefaultImageRepository when empty.
	ImageRepository string
	// NewPassword generates the password of a new credentials Secret;
	// GeneratePassword when nil.
	NewPassword func() (string, error)
}

// SetupWithManager registers the controller (its gauges are pkg/metrics).
// Options go through the builder: multicluster-runtime ignores the
// manager-level controller options. engage selects the members to watch
// (those that have the SimpleDB CRD).
func (r *Reconciler) SetupWithManager(mgr mcmanager.Manager, opts controller.TypedOptions[mcreconcile.Request], engage mcbuilder.EngageOptions) error {
	// Secret and claim are watched while they carry the controller
	// reference (deletionPolicy Delete); retained ones carry none and are
	// read live, so their drift is seen at the resync.
	return mcbuilder.ControllerManagedBy(mgr).
		Named("simpledb").
		For(&v1alpha1.SimpleDB{}, engage).
		Owns(&corev1.Secret{}, engage).
		Owns(&corev1.PersistentVolumeClaim{}, engage).
		Owns(&appsv1.Deployment{}, engage).
		Owns(&corev1.Service{}, engage).
		WithOptions(opts).
		WithLogConstructor(logging.ReconcileLogger(mgr.GetLogger(), "simpledb", "SimpleDB")).
		Complete(r)
}

// Reconcile brings one SimpleDB's children in line with its spec and reports status.
func (r *Reconciler) Reconcile(ctx context.Context, req mcreconcile.Request) (res ctrl.Result, err error) {
	ctx, done := reconciler.Instrument(ctx, kindName, req)
	defer func() { done(res, err) }()
	cl, err := r.Manager.GetCluster(ctx, req.ClusterName)
	if err != nil {
		return ctrl.Result{}, err
	}
	c := cl.GetClient()
	rec := cl.GetEventRecorder("fleethub")
	member := req.ClusterName.String()
	forget := func() {
		metrics.ForgetObject(member, kindName, req.String())
	}

	db := &v1alpha1.SimpleDB{}
	_, span := tracing.Start(ctx, "get")
	err = c.Get(ctx, req.NamespacedName, db)
	tracing.End(span, client.IgnoreNotFound(err))
	if err != nil {
		if apierrors.IsNotFound(err) {
			forget()
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}

	if !db.DeletionTimestamp.IsZero() {
		fctx, span := tracing.Start(ctx, "finalize")
		err := r.finalize(fctx, cl, rec, db)
		tracing.End(span, err)
		if err != nil {
			return ctrl.Result{}, err
		}
		forget()
		return ctrl.Result{}, nil
	}

	if err := finalizer.Ensure(ctx, c, db); err != nil {
		return ctrl.Result{}, err
	}

	cctx, span := tracing.Start(ctx, "children")
	evs := reconciler.NewChildEvents(rec, db)
	obs := r.ensureChildren(cctx, cl, evs, db)
	evs.Flush()
	tracing.End(span, obs.ApplyErr)
	if errors.Is(obs.ApplyErr, reconciler.ErrOwnerDeleting) {
		// Deleted since the cache saw it: the deletion event brings us back,
		// and nothing is created for it meanwhile.
		return ctrl.Result{}, nil
	}
	if errors.Is(obs.ApplyErr, reconciler.ErrChildChanged) {
		// A child changed under this reconcile: a race, not a state worth a
		// status. The next reconcile, in a second, reads it again.
		ctrl.LoggerFrom(ctx).V(1).Info("A child changed during the reconcile; reconciling again", "reason", obs.ApplyErr.Error())
		return reconciler.Result(r.ResyncInterval, obs.ApplyErr)
	}

	orig := db.DeepCopy()
	db.Status = computeStatus(db, obs, metav1.Now())
	metrics.RecordObject(member, kindName, req.String(), db.Status.Ready)
	sctx, span := tracing.Start(ctx, "status")
	wrote, statusErr := reconciler.PatchStatus(sctx, c, orig, db)
	tracing.End(span, statusErr)
	if wrote {
		reconciler.Announce(rec, db, orig.Status.Conditions, db.Status.Conditions)
		emitChildTransitions(rec, db, orig.Status.Conditions, db.Status.Conditions)
	}

	applyErr := obs.ApplyErr
	if applyErr != nil && reconciler.Rejected(applyErr) {
		// The member refused what the spec asks for: Stalled, and no retry
		// with backoff. Not a reconcile.TerminalError, though: that would
		// also drop the resync, and a refusal by an admission policy can be
		// lifted without any change to this CR. The resync tries again.
		ctrl.LoggerFrom(ctx).Error(applyErr, "Children rejected by the member apiserver; retrying at the resync")
		applyErr = nil
	}
	// Conflicts and refused adoptions are no errors: the status says them,
	// and the resync (reads only) notices when they are resolved.
	return reconciler.Result(r.ResyncInterval, errors.Join(statusErr, applyErr))
}

// ensureChildren writes the children in dependency order and stops at the
// first one that is not usable: the Deployment never exists before the Secret
// and the claim it needs, nor when a name is held by someone else.
func (r *Reconciler) ensureChildren(ctx context.Context, cl cluster.Cluster, evs *reconciler.ChildEvents, db *v1alpha1.SimpleDB) statusInput {
	var obs statusInput
	stop := func(err error) bool {
		if c, ok := reconciler.AsConflict(err); ok {
			obs.Conflict = c
			return true
		}
		obs.ApplyErr = err
		return err != nil
	}

	// 1. Credentials.
	secret, credProblem, res, err := r.ensureSecret(ctx, cl, db)
	obs.Secret, obs.Credentials = secret, credProblem
	if stop(err) || credProblem != nil {
		return obs
	}
	evs.Report(ctx, "Secret", secret.Name, res)

	// 2. Data claim.
	claim, storageProblem, res, err := r.ensureClaim(ctx, cl, db)
	obs.Claim, obs.Storage = claim, storageProblem
	if stop(err) {
		return obs
	}
	if storageProblem != nil && storageProblem.Reason == v1alpha1.ReasonAdoptionRefused {
		return obs
	}
	evs.Report(ctx, "PersistentVolumeClaim", ClaimName(db), res)
	if claim != nil && claim.Status.Phase != corev1.ClaimBound && storageProblem == nil {
		obs.ClaimEvent = claimEvent(ctx, cl.GetAPIReader(), claim)
	}

	// 3. Deployment, rolled when the credentials change.
	key := client.ObjectKey{Namespace: db.Namespace, Name: ServiceName(db)}
	desired := Deployment(db, DeploymentOptions{
		ImageRepository:     r.ImageRepository,
		CredentialsChecksum: CredentialsChecksum(Username, string(secret.Data[KeyPassword])),
	})
	dep, res, err := reconciler.EnsureChild(ctx, cl, db, reconciler.Child[*appsv1.Deployment, *appsv1ac.DeploymentApplyConfiguration]{
		Kind: "Deployment", Key: key, Desired: desired,
		Extract: appsv1ac.ExtractDeployment, New: func() *appsv1.Deployment { return &appsv1.Deployment{} },
	})
	if stop(err) {
		return obs
	}
	if res != apply.Created {
		obs.Deployment = dep
	}
	evs.Report(ctx, "Deployment", key.Name, res)

	// 4. Service.
	_, res, err = reconciler.EnsureChild(ctx, cl, db, reconciler.Child[*corev1.Service, *corev1ac.ServiceApplyConfiguration]{
		Kind: "Service", Key: key, Desired: Service(db),
		Extract: corev1ac.ExtractService, New: func() *corev1.Service { return &corev1.Service{} },
	})
	if stop(err) {
		return obs
	}
	obs.ServiceExists = true
	evs.Report(ctx, "Service", key.Name, res)
	return obs
}

// emitChildTransitions records an Event when a child turns unusable for a
// reason other than "not created yet", and when applying starts failing.
// A Stalled SimpleDB got its one Warning from reconciler.Announce already.
func emitChildTransitions(rec events.EventRecorder, db *v1alpha1.SimpleDB, old, now []metav1.Condition) {
	if reconciler.ProgressOf(now) == reconciler.Stalled {
		return
	}
	find := func(conds []metav1.Condition, t string) metav1.Condition {
		for _, c := range conds {
			if c.Type == t {
				return c
			}
		}
		return metav1.Condition{}
	}
	waiting := map[string]bool{
		v1alpha1.ReasonClaimMissing: true, v1alpha1.ReasonSecretMissing: true,
		v1alpha1.ReasonClaimPending: true, v1alpha1.ReasonResizing: true,
	}
	for _, t := range []string{v1alpha1.ConditionCredentialsReady, v1alpha1.ConditionStorageReady} {
		was, is := find(old, t), find(now, t)
		if is.Status == metav1.ConditionFalse && (was.Status != is.Status || was.Reason != is.Reason) && !waiting[is.Reason] {
			rec.Eventf(db, nil, corev1.EventTypeWarning, is.Reason, t, "%s", is.Message)
		}
	}
	was, is := find(old, v1alpha1.ConditionDegraded), find(now, v1alpha1.ConditionDegraded)
	if is.Status == metav1.ConditionTrue && (was.Status != is.Status || was.Message != is.Message) {
		rec.Eventf(db, nil, corev1.EventTypeWarning, is.Reason, "Apply", "%s", is.Message)
	}
}
