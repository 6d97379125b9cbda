package webapp_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
)

// Objects another tool made, unlabelled, under the names a WebApp's children
// would take: fleethub never writes them, the WebApp says who holds the name,
// and deleting the WebApp leaves them.
func TestForeignObjectsAreNeverTaken(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "alpha")
	c := fleet.Members["alpha"].Client
	labels := map[string]string{"app": "redis"}
	foreign := map[string]client.Object{
		"svc": &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: ns},
			Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 6379, TargetPort: intstr.FromInt32(6379)}}},
		},
		"dep": &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "dep", Namespace: ns},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "redis", Image: "redis:7"}}},
				},
			},
		},
		"pvc": &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "pvc-data", Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		},
	}
	child := map[string]string{"svc": "Service svc", "dep": "Deployment dep", "pvc": "PersistentVolumeClaim pvc-data"}
	versions := map[string]string{}
	for name, obj := range foreign {
		fleettest.Must(t, c.Create(ctx, obj))
		versions[name] = obj.GetResourceVersion()
		fleettest.Must(t, c.Create(ctx, webApp(ns, name, func(a *v1alpha1.WebApp) {
			if name == "pvc" {
				a.Spec.Storage = &v1alpha1.StorageSpec{Size: resource.MustParse("1Gi")}
			}
		})))
	}

	for name := range foreign {
		app := &v1alpha1.WebApp{}
		eventually(t, func() error {
			get(t, "alpha", ns, name, app)
			ready := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionReady)
			stalled := meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionStalled)
			if ready == nil || ready.Reason != v1alpha1.ReasonChildConflict || stalled == nil || stalled.Status != metav1.ConditionTrue {
				return fmt.Errorf("WebApp %s: Ready %+v, Stalled %+v", name, ready, stalled)
			}
			if !strings.Contains(ready.Message, child[name]) || !strings.Contains(ready.Message, "fleethub does not manage") {
				return fmt.Errorf("Ready message names neither child nor holder: %s", ready.Message)
			}
			return nil
		})
		if meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionReconciling) != nil {
			t.Errorf("WebApp %s is Stalled and Reconciling at once", name)
		}
	}

	// Several resyncs later: not one write to any foreign object, one
	// Warning per WebApp (no storm).
	time.Sleep(3 * fleettest.TestConfig().ResyncInterval)
	for name, obj := range foreign {
		now := obj.DeepCopyObject().(client.Object)
		get(t, "alpha", ns, obj.GetName(), now)
		if now.GetResourceVersion() != versions[name] || len(now.GetOwnerReferences()) != 0 || len(now.GetLabels()) != 0 {
			t.Errorf("foreign %s was written: resourceVersion %s→%s, owners %v, labels %v",
				obj.GetName(), versions[name], now.GetResourceVersion(), now.GetOwnerReferences(), now.GetLabels())
		}
	}
	list := &eventsv1.EventList{}
	fleettest.Must(t, c.List(ctx, list, client.InNamespace(ns)))
	warnings := map[string]int{}
	for _, e := range list.Items {
		if e.Type == corev1.EventTypeWarning && e.Reason == v1alpha1.ReasonChildConflict {
			warnings[e.Regarding.Name]++
		}
	}
	for name := range foreign {
		if warnings[name] != 1 {
			t.Errorf("WebApp %s: %d ChildConflict Warnings, want 1", name, warnings[name])
		}
	}

	// Deleting the WebApps leaves every foreign object as it was.
	for name := range foreign {
		fleettest.Must(t, c.Delete(ctx, webApp(ns, name)))
	}
	eventually(t, func() error {
		for name := range foreign {
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &v1alpha1.WebApp{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("WebApp %s still there: %w", name, err)
			}
		}
		return nil
	})
	for name, obj := range foreign {
		now := obj.DeepCopyObject().(client.Object)
		get(t, "alpha", ns, obj.GetName(), now)
		if now.GetResourceVersion() != versions[name] || !now.GetDeletionTimestamp().IsZero() {
			t.Errorf("foreign %s changed when its WebApp was deleted", obj.GetName())
		}
	}
}

// A WebApp whose Service name is taken recovers by itself once the name is free.
func TestChildConflictRecoversWhenTheNameIsFree(t *testing.T) {
	setup(t)
	ctx := context.Background()
	ns := namespace(t, "beta")
	c := fleet.Members["beta"].Client
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "later", Namespace: ns},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}
	fleettest.Must(t, c.Create(ctx, svc))
	fleettest.Must(t, c.Create(ctx, webApp(ns, "later")))
	dep := waitFor(t, "beta", ns, "later", &appsv1.Deployment{}) // its own name is free
	app := &v1alpha1.WebApp{}
	eventually(t, func() error {
		get(t, "beta", ns, "later", app)
		if !meta.IsStatusConditionTrue(app.Status.Conditions, v1alpha1.ConditionStalled) {
			return fmt.Errorf("not Stalled: %+v", app.Status.Conditions)
		}
		return nil
	})
	fleettest.Must(t, c.Delete(ctx, svc))
	setAvailable(t, "beta", dep, 2)
	eventually(t, func() error {
		s := &corev1.Service{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(svc), s); err != nil {
			return err
		}
		get(t, "beta", ns, "later", app)
		if !metav1.IsControlledBy(s, app) {
			return fmt.Errorf("Service not (yet) the WebApp's: %v", s.OwnerReferences)
		}
		if !meta.IsStatusConditionTrue(app.Status.Conditions, v1alpha1.ConditionReady) ||
			meta.FindStatusCondition(app.Status.Conditions, v1alpha1.ConditionStalled) != nil {
			return fmt.Errorf("not recovered: %+v", app.Status.Conditions)
		}
		return nil
	})
}
