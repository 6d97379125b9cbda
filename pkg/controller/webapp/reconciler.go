// Package webapp reconciles WebApps in every engaged member cluster into a
// Deployment, a Service and, with spec.storage, a PersistentVolumeClaim.
package webapp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	mcbuilder "sigs.k8s.io/multicluster-runtime/pkg/builder"
	mcmanager "sigs.k8s.io/multicluster-runtime/pkg/manager"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/apply"
	"github.com/fleethub/fleethub/pkg/conditions"
	"github.com/fleethub/fleethub/pkg/finalizer"
	"github.com/fleethub/fleethub/pkg/logging"
	"github.com/fleethub/fleethub/pkg/metrics"
	"github.com/fleethub/fleethub/pkg/observe"
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
	ctx, done := observe.Reconcile(ctx, "WebApp", req)
	defer func() { done(res, err) }()
	log := ctrl.LoggerFrom(ctx)
	cluster := req.ClusterName.String()
	cl, err := r.Manager.GetCluster(ctx, req.ClusterName)
	if err != nil {
		return ctrl.Result{}, err
	}
	c := cl.GetClient()
	rec := cl.GetEventRecorder("fleethub")

	app := &v1alpha1.WebApp{}
	_, span := observe.Phase(ctx, "get")
	err = c.Get(ctx, req.NamespacedName, app)
	tracing.End(span, client.IgnoreNotFound(err))
	if err != nil {
		if apierrors.IsNotFound(err) {
			metrics.Forget(cluster, "WebApp", req.String())
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	if !app.DeletionTimestamp.IsZero() {
		err := r.finalize(ctx, c, rec, app)
		if err == nil {
			metrics.Forget(cluster, "WebApp", req.String())
		}
		return ctrl.Result{}, err
	}

	if err := finalizer.Ensure(ctx, c, app); err != nil {
		return ctrl.Result{}, err
	}

	cctx, span := observe.Phase(ctx, "children")
	obs, applyErr := r.ensureChildren(cctx, c, rec, app)
	tracing.End(span, applyErr)
	obs.ApplyErr = applyErr

	wasReady := readyStatus(app.Status.Conditions)
	status := computeStatus(app, obs, metav1.Now())
	metrics.Observe(cluster, "WebApp", req.String(), readyStatus(status.Conditions) == metav1.ConditionTrue)
	if !equality.Semantic.DeepEqual(app.Status, status) {
		orig := app.DeepCopy()
		app.Status = status
		sctx, span := observe.Phase(ctx, "status")
		// Optimistic lock: a reconcile that read a stale copy must not
		// overwrite (or announce twice) a newer status.
		err := c.Status().Patch(sctx, app, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
		tracing.End(span, err)
		if apierrors.IsConflict(err) && applyErr == nil {
			log.V(1).Info("Status changed meanwhile; reconciling again")
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		if err != nil {
			return ctrl.Result{}, errors.Join(applyErr, fmt.Errorf("writing status: %w", err))
		}
		if now := readyStatus(status.Conditions); now != wasReady {
			ready := conditions.Find(status.Conditions, v1alpha1.ConditionReady)
			typ := corev1.EventTypeNormal
			if now != metav1.ConditionTrue {
				typ = corev1.EventTypeWarning
			}
			rec.Eventf(app, nil, typ, ready.Reason, "Ready", "Ready=%s: %s", now, ready.Message)
		}
	}

	if applyErr != nil {
		if terminal(applyErr) {
			// The apiserver refused what the spec asks for; retrying will not
			// help until the spec changes, which triggers a reconcile anyway.
			log.Error(applyErr, "Children rejected by the member apiserver; waiting for a spec change")
			return ctrl.Result{RequeueAfter: r.ResyncInterval}, nil
		}
		return ctrl.Result{}, applyErr
	}
	return ctrl.Result{RequeueAfter: r.ResyncInterval}, nil
}

// ensureChildren applies the children in dependency order: the claim the
// Deployment mounts, the Deployment, then the Service in front of it.
func (r *Reconciler) ensureChildren(ctx context.Context, c client.Client, rec events.EventRecorder, app *v1alpha1.WebApp) (observed, error) {
	var obs observed
	// One Event per kind of change per reconcile: several Events with the same
	// reason in a burst would be merged into a series and patched later,
	// which would show up as writes long after the object converged.
	var created, updated []string
	defer func() {
		if len(created) > 0 {
			rec.Eventf(app, nil, corev1.EventTypeNormal, "Created", "Apply", "Created %s", strings.Join(created, ", "))
		}
		if len(updated) > 0 {
			rec.Eventf(app, nil, corev1.EventTypeNormal, "Updated", "Apply", "Updated %s to match the spec", strings.Join(updated, ", "))
		}
	}()
	report := func(kind, name string, res apply.Result) {
		switch res {
		case apply.Created:
			created = append(created, kind+" "+name)
		case apply.Updated:
			updated = append(updated, kind+" "+name)
		}
		if res != apply.Unchanged {
			ctrl.LoggerFrom(ctx).Info("Applied child", "child", kind+"/"+name, "result", res)
		}
	}

	if desired := PersistentVolumeClaim(app); desired != nil {
		live := &corev1.PersistentVolumeClaim{}
		key := client.ObjectKey{Namespace: app.Namespace, Name: pvcName(app)}
		res, exists, err := apply.Ensure(ctx, c, key, live, desired, corev1ac.ExtractPersistentVolumeClaim)
		if err != nil {
			return obs, err
		}
		if exists {
			obs.PVCPhase = live.Status.Phase
		}
		report("PersistentVolumeClaim", key.Name, res)
	}

	key := client.ObjectKeyFromObject(app)
	dep := &appsv1.Deployment{}
	res, exists, err := apply.Ensure(ctx, c, key, dep, Deployment(app), appsv1ac.ExtractDeployment)
	if err != nil {
		return obs, err
	}
	if exists {
		obs.Deployment = dep
	}
	report("Deployment", key.Name, res)

	svc := &corev1.Service{}
	res, exists, err = apply.Ensure(ctx, c, key, svc, Service(app), corev1ac.ExtractService)
	if err != nil {
		return obs, err
	}
	obs.ServiceExists = exists || res == apply.Created
	report("Service", key.Name, res)
	return obs, nil
}

// finalize deletes the children this WebApp controls, then releases the CR.
// Owner references would let the member's garbage collector do the same; doing
// it here makes deletion complete and observable even where GC lags.
func (r *Reconciler) finalize(ctx context.Context, c client.Client, rec events.EventRecorder, app *v1alpha1.WebApp) error {
	if !controllerutil.ContainsFinalizer(app, v1alpha1.Finalizer) {
		return nil
	}
	children := []client.Object{
		&appsv1.Deployment{}, &corev1.Service{},
	}
	keys := []client.ObjectKey{client.ObjectKeyFromObject(app), client.ObjectKeyFromObject(app)}
	if app.Spec.Storage != nil {
		children = append(children, &corev1.PersistentVolumeClaim{})
		keys = append(keys, client.ObjectKey{Namespace: app.Namespace, Name: pvcName(app)})
	}
	for i, obj := range children {
		if err := c.Get(ctx, keys[i], obj); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("reading child %s: %w", keys[i], err)
		}
		if !metav1.IsControlledBy(obj, app) {
			continue
		}
		if err := c.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting child %s: %w", keys[i], err)
		}
	}
	if err := finalizer.Remove(ctx, c, app); client.IgnoreNotFound(err) != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("WebApp deleted; children removed")
	return nil
}

// terminal reports errors that retrying cannot fix: the apiserver rejected the object.
func terminal(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)
}

func readyStatus(conds []metav1.Condition) metav1.ConditionStatus {
	return conditions.Find(conds, v1alpha1.ConditionReady).Status
}
