package webapp

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/apply"
	"github.com/fleethub/fleethub/pkg/finalizer"
	"github.com/fleethub/fleethub/pkg/reconciler"
)

// ensureChildren applies the children in dependency order: the claim the
// Deployment mounts, the Deployment, then the Service in front of it. It
// stops at the first child it may not write (a *reconciler.ConflictError):
// nothing more is created for a WebApp whose names are taken.
func (r *Reconciler) ensureChildren(ctx context.Context, cl cluster.Cluster, evs *reconciler.ChildEvents, app *v1alpha1.WebApp) (statusInput, error) {
	var obs statusInput
	if desired := PersistentVolumeClaim(app); desired != nil {
		key := client.ObjectKey{Namespace: app.Namespace, Name: pvcName(app)}
		pvc, res, err := reconciler.EnsureChild(ctx, cl, app, reconciler.Child[*corev1.PersistentVolumeClaim, *corev1ac.PersistentVolumeClaimApplyConfiguration]{
			Kind: "PersistentVolumeClaim", Key: key, Desired: desired,
			Extract: corev1ac.ExtractPersistentVolumeClaim, New: func() *corev1.PersistentVolumeClaim { return &corev1.PersistentVolumeClaim{} },
		})
		if err != nil {
			return obs, err
		}
		if res != apply.Created {
			obs.PVCPhase = pvc.Status.Phase
		}
		evs.Report(ctx, "PersistentVolumeClaim", key.Name, res)
	}

	key := client.ObjectKeyFromObject(app)
	dep, res, err := reconciler.EnsureChild(ctx, cl, app, reconciler.Child[*appsv1.Deployment, *appsv1ac.DeploymentApplyConfiguration]{
		Kind: "Deployment", Key: key, Desired: Deployment(app),
		Extract: appsv1ac.ExtractDeployment, New: func() *appsv1.Deployment { return &appsv1.Deployment{} },
	})
	if err != nil {
		return obs, err
	}
	if res != apply.Created {
		obs.Deployment = dep
	}
	evs.Report(ctx, "Deployment", key.Name, res)

	_, res, err = reconciler.EnsureChild(ctx, cl, app, reconciler.Child[*corev1.Service, *corev1ac.ServiceApplyConfiguration]{
		Kind: "Service", Key: key, Desired: Service(app),
		Extract: corev1ac.ExtractService, New: func() *corev1.Service { return &corev1.Service{} },
	})
	if err != nil {
		return obs, err
	}
	obs.ServiceExists = true
	evs.Report(ctx, "Service", key.Name, res)
	return obs, nil
}

// finalize deletes the children this WebApp controls, then releases the CR.
// Owner references would let the member's garbage collector do the same;
// doing it here makes deletion complete and observable even where GC lags.
// Objects of the same names that the WebApp does not control stay.
func (r *Reconciler) finalize(ctx context.Context, cl cluster.Cluster, app *v1alpha1.WebApp) error {
	if !controllerutil.ContainsFinalizer(app, v1alpha1.Finalizer) {
		return nil
	}
	ours := reconciler.ControlledBy(app)
	for _, child := range []struct {
		kind string
		obj  client.Object
	}{
		{"Deployment", &appsv1.Deployment{}},
		{"Service", &corev1.Service{}},
		{"PersistentVolumeClaim", &corev1.PersistentVolumeClaim{}},
	} {
		name := app.Name
		if child.kind == "PersistentVolumeClaim" {
			name = pvcName(app)
		}
		child.obj.SetNamespace(app.Namespace)
		child.obj.SetName(name)
		if _, err := reconciler.DeleteChild(ctx, cl, child.kind, child.obj, ours); err != nil {
			return err
		}
	}
	if err := finalizer.Remove(ctx, cl.GetClient(), app); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("releasing the WebApp: %w", err)
	}
	ctrl.LoggerFrom(ctx).Info("WebApp deleted; children removed")
	return nil
}
