//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/e2e/framework"
)

func simpleDB(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(framework.GVK("SimpleDB"))
	u.SetNamespace(ns)
	u.SetName(name)
	_ = unstructured.SetNestedField(u.Object, "1Gi", "spec", "storageSize")
	if len(fleet.Images.PostgresTags) > 0 {
		// Only the locally built versions exist on backends that run pods.
		_ = unstructured.SetNestedField(u.Object, fleet.Images.PostgresTags[0], "spec", "postgresVersion")
	}
	return u
}

// simpleDBReady checks Ready=True for the current generation, status.ready,
// and the children behind it: a bound claim, the credentials Secret, an
// available Deployment and the Service.
func simpleDBReady(m, ns, name string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		c := member(m)
		db := &unstructured.Unstructured{}
		db.SetGroupVersionKind(framework.GVK("SimpleDB"))
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, db); err != nil {
			return err
		}
		ready, _ := framework.Condition(db, "Ready")
		if ready["status"] != "True" || ready["observedGeneration"] != fmt.Sprint(db.GetGeneration()) {
			return fmt.Errorf("%s: SimpleDB %s/%s not Ready for generation %d: %v", m, ns, name, db.GetGeneration(), ready)
		}
		if ok, _, _ := unstructured.NestedBool(db.Object, "status", "ready"); !ok {
			return fmt.Errorf("%s: SimpleDB %s/%s status.ready is false", m, ns, name)
		}
		secretName, _, _ := unstructured.NestedString(db.Object, "status", "secretName")
		serviceName, _, _ := unstructured.NestedString(db.Object, "status", "serviceName")
		if secretName == "" || serviceName == "" {
			return fmt.Errorf("%s: SimpleDB %s/%s status lacks secretName/serviceName: %v", m, ns, name, db.Object["status"])
		}
		secret := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: secretName}, secret); err != nil {
			return err
		}
		if len(secret.Data["password"]) < 24 {
			return fmt.Errorf("%s: Secret %s has no usable password", m, secretName)
		}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: serviceName}, &corev1.Service{}); err != nil {
			return err
		}
		pvcs := &corev1.PersistentVolumeClaimList{}
		if err := c.List(ctx, pvcs, client.InNamespace(ns)); err != nil {
			return err
		}
		bound := false
		for _, p := range pvcs.Items {
			if strings.HasPrefix(p.Name, name) && p.Status.Phase == corev1.ClaimBound {
				bound = true
			}
		}
		if !bound {
			return fmt.Errorf("%s: no bound claim for SimpleDB %s/%s", m, ns, name)
		}
		deps := &appsv1.DeploymentList{}
		if err := c.List(ctx, deps, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, d := range deps.Items {
			if strings.HasPrefix(d.Name, name) && d.Status.AvailableReplicas == 1 {
				return nil
			}
		}
		return fmt.Errorf("%s: no available Deployment for SimpleDB %s/%s", m, ns, name)
	}
}

// TestSimpleDBReady: a SimpleDB in each member becomes Ready with its
// credentials, bound storage (the real volume controller binds the claim),
// an available server and its Service.
func TestSimpleDBReady(t *testing.T) {
	requireKind(t, "SimpleDB")
	ctx := context.Background()
	ns := newNamespace(t, alpha, beta)
	for _, m := range []string{alpha, beta} {
		diagnoseOnFailure(t, framework.Object{Cluster: m, Resource: "simpledb", Namespace: ns, Name: "orders"})
		if err := member(m).Create(ctx, simpleDB(ns, "orders")); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{alpha, beta} {
		eventually(t, timeout, m+": SimpleDB orders Ready", simpleDBReady(m, ns, "orders"))
	}
}
