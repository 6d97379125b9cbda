// Package webapp reconciles WebApps in every engaged member cluster into a
// Deployment, a Service and, with spec.storage, a PersistentVolumeClaim.
package webapp

import (
	"context"
	"errors"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	mcbuilder "sigs.k8s.io/multicluster-runtime/pkg/builder"
	mcmanager "sigs.k8s.io/multicluster-runtime/pkg/manager"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/conditions"
	"github.com/fleethub/fleethub/pkg/finalizer"
	"github.com/fleethub/fleethub/pkg/logging"
	"github.com/fleethub/fleethub/pkg/metrics"
	"github.com/fleethub/fleethub/pkg/reconciler"
	"github.com/fleethub/fleethub/pkg/tracing"
)

// Member-cluster permissions of the hub identity (deploy/member/rbac).
// +kubebuilder:rbac:groups=app.54b3r.io,resources=webapps,verbs=get;list;watch;patch;update
// +kubebuilder:rbac:groups=app.54b3r.io,resources=webapps/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=app.54b3r.io,resources=webapps/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch;update;delete
// +kubebuilder:rbac:groups="",resources=services;persistentvolumeclaims,verbs=get;list;watch;create;patch;update;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconciler reconciles WebApps in the member cluster each request names.
type Reconciler struct {
	Manager mcmanager.Manager
	// ResyncInterval re-reconciles a converged WebApp to catch drift that no
	// watch reported; it costs reads only.
	ResyncInterval time.Duration
}

// SetupWithManager registers the controller. Options go through the builder:
// multicluster-runtime ignores the manager-level controller options. engage
// selects the members to watch (those that have the WebApp CRD).
func (r *Reconciler) SetupWithManager(mgr mcmanager.Manager, opts controller.TypedOptions[mcreconcile.Request], engage mcbuilder.EngageOptions) error {
	return mcbuilder.ControllerManagedBy(mgr).
		Named("webapp").
		For(&v1alpha1.WebApp{}, engage).
		Owns(&appsv1.Deployment{}, engage).
		Owns(&corev1.Service{}, engage).
		Owns(&corev1.PersistentVolumeClaim{}, engage).
		WithOptions(opts).
		WithLogConstructor(logging.ReconcileLogger(mgr.GetLogger(), "webapp", "WebApp")).
		Complete(r)
}

// Reconcile brings one WebApp's children in line with its spec and reports status.
func (r *Reconciler) Reconcile(ctx context.Context, req mcreconcile.Request) (res ctrl.Result, err error) {
	ctx, done := reconciler.Instrument(ctx, "WebApp", req)
	defer func() { done(res, err) }()
	cluster := req.ClusterName.String()
	cl, err := r.Manager.GetCluster(ctx, req.ClusterName)
	if err != nil {
		return ctrl.Result{}, err
	}
	c := cl.GetClient()
	rec := cl.GetEventRecorder("fleethub")

	app := &v1alpha1.WebApp{}
	_, span := tracing.Start(ctx, "get")
	err = c.Get(ctx, req.NamespacedName, app)
	tracing.End(span, client.IgnoreNotFound(err))
	if err != nil {
		if apierrors.IsNotFound(err) {
			metrics.ForgetObject(cluster, "WebApp", req.String())
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	if !app.DeletionTimestamp.IsZero() {
		err := r.finalize(ctx, cl, app)
		if err == nil {
			metrics.ForgetObject(cluster, "WebApp", req.String())
		}
		return ctrl.Result{}, err
	}

	if err := finalizer.Ensure(ctx, c, app); err != nil {
		return ctrl.Result{}, err
	}

	cctx, span := tracing.Start(ctx, "children")
	evs := reconciler.NewChildEvents(rec, app)
	obs, applyErr := r.ensureChildren(cctx, cl, evs, app)
	evs.Flush()
	tracing.End(span, applyErr)
	if errors.Is(applyErr, reconciler.ErrOwnerDeleting) {
		// Deleted since the cache saw it: the deletion event brings us back.
		return ctrl.Result{}, nil
	}
	if errors.Is(applyErr, reconciler.ErrChildChanged) {
		// A child changed under this reconcile: a race, not a state worth a
		// status. The next reconcile, in a second, reads it again.
		ctrl.LoggerFrom(ctx).V(1).Info("A child changed during the reconcile; reconciling again", "reason", applyErr.Error())
		return reconciler.Result(r.ResyncInterval, applyErr)
	}
	if conflict, ok := reconciler.AsConflict(applyErr); ok {
		obs.Conflict, applyErr = conflict, nil
	}
	obs.ApplyErr = applyErr

	orig := app.DeepCopy()
	app.Status = computeStatus(app, obs, metav1.Now())
	metrics.RecordObject(cluster, "WebApp", req.String(), readyStatus(app.Status.Conditions) == metav1.ConditionTrue)
	sctx, span := tracing.Start(ctx, "status")
	wrote, statusErr := reconciler.PatchStatus(sctx, c, orig, app)
	tracing.End(span, statusErr)
	if wrote {
		reconciler.Announce(rec, app, orig.Status.Conditions, app.Status.Conditions)
	}
	if applyErr != nil && reconciler.Rejected(applyErr) {
		// The member refused what the spec asks for: Stalled, and no retry
		// with backoff. Not a reconcile.TerminalError, though: that would
		// also drop the resync, and a refusal by an admission policy can be
		// lifted without any change to this CR. The resync tries again.
		ctrl.LoggerFrom(ctx).Error(applyErr, "Children rejected by the member apiserver; retrying at the resync")
		applyErr = nil
	}
	// A ChildConflict is no error: the status says it, and the resync (reads
	// only) notices when the name is free.
	return reconciler.Result(r.ResyncInterval, errors.Join(statusErr, applyErr))
}

func readyStatus(conds []metav1.Condition) metav1.ConditionStatus {
	return conditions.Find(conds, v1alpha1.ConditionReady).Status
}
