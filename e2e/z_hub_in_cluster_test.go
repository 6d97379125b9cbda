//go:build e2e

// This file's name sorts last so its scenario, which hands the fleet from the
// hub manager process to a Deployment and back, runs after all the others.

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/e2e/backend"
	"github.com/fleethub/fleethub/e2e/framework"
)

// managerImage is what `make image` builds offline (FROM scratch).
const managerImage = "fleethub-manager:dev"

// TestHubManagerInCluster: the hub manager also works deployed the way
// operators deploy it — the image `make image` builds, loaded into the hub
// cluster, deploy/overlays/dev applied — reaching the members at their
// in-cluster addresses. The process manager steps aside meanwhile and takes
// over again at the end.
func TestHubManagerInCluster(t *testing.T) {
	if _, real := fleet.Backend.(backend.NodeCommander); !real {
		t.Skipf("the %s backend runs no containers; the in-cluster hub needs a real one", fleet.Backend.Name())
	}
	ctx := context.Background()
	root := framework.ModuleRoot()
	// Always from this tree: an image left from an earlier build would test
	// an older manager.
	t.Logf("building %s with make image", managerImage)
	if out, err := exec.CommandContext(ctx, "make", "-C", root, "image", "IMG="+managerImage).CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	if err := fleet.Backend.LoadImages(ctx, fleet.Hub.BackendName, managerImage); err != nil {
		t.Fatal(err)
	}

	if err := fleet.StopManager(); err != nil {
		t.Fatal(err)
	}
	var deployed []*unstructured.Unstructured
	t.Cleanup(func() { handBack(t, deployed) })

	ns := newNamespace(t, alpha, beta)
	diagnoseOnFailure(t, framework.Object{Cluster: framework.HubName, Resource: "deployment", Namespace: framework.HubNamespace, Name: "fleethub-manager"},
		webAppObject(alpha, ns, "served-from-the-hub"), webAppObject(beta, ns, "served-from-the-hub"))
	var err error
	if deployed, err = framework.ApplyKustomization(ctx, fleet.Hub.Client, filepath.Join(root, "deploy", "overlays", "dev")); err != nil {
		t.Fatal(err)
	}
	eventually(t, timeout, "the hub manager Deployment available", func(ctx context.Context) error {
		d := &appsv1.Deployment{}
		if err := fleet.Hub.Client.Get(ctx, client.ObjectKey{Namespace: framework.HubNamespace, Name: "fleethub-manager"}, d); err != nil {
			return err
		}
		if d.Status.AvailableReplicas < 1 {
			return fmt.Errorf("%d of %d replicas available", d.Status.AvailableReplicas, *d.Spec.Replicas)
		}
		return nil
	})

	// Members are registered again with the addresses pods in the hub use.
	fleet.HubView = backend.InCluster
	for _, m := range []string{alpha, beta} {
		if err := fleet.Register(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{alpha, beta} {
		if err := member(m).Create(ctx, webApp(ns, "served-from-the-hub", 1)); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{alpha, beta} {
		eventually(t, timeout, m+": WebApp reconciled by the in-cluster hub manager", webAppReady(m, ns, "served-from-the-hub", 1))
	}
	out, _ := fleet.Kubectl(ctx, framework.HubName, "logs", "-n", framework.HubNamespace, "deployment/fleethub-manager", "--tail", "200")
	if !strings.Contains(out, "served-from-the-hub") {
		t.Errorf("the in-cluster manager's log does not mention the WebApp it reconciled:\n%s", out)
	}
}

// handBack removes the in-cluster manager and gives the fleet back to the
// manager process, registered at host addresses.
func handBack(t *testing.T, deployed []*unstructured.Unstructured) {
	ctx := context.Background()
	for i := len(deployed) - 1; i >= 0; i-- {
		o := deployed[i]
		if o.GetKind() == "Namespace" {
			continue // the hub namespace holds the member Secrets
		}
		if err := client.IgnoreNotFound(fleet.Hub.Client.Delete(ctx, o)); err != nil {
			t.Errorf("removing %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	err := backend.Poll(ctx, 2*time.Minute, time.Second, func() error {
		pods, err := fleet.Kubectl(ctx, framework.HubName, "get", "pods", "-n", framework.HubNamespace, "-o", "name")
		if err != nil || strings.Contains(pods, "fleethub-manager") {
			return fmt.Errorf("in-cluster manager pods still there: %s %w", pods, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	fleet.HubView = backend.Host
	if err := fleet.StartManager(ctx); err != nil {
		t.Errorf("restarting the hub manager process: %v", err)
		return
	}
	for _, m := range []string{alpha, beta} {
		if err := fleet.Register(ctx, m); err != nil {
			t.Errorf("registering %s again: %v", m, err)
		}
	}
}
