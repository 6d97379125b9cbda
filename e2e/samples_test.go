//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/e2e/framework"
)

// TestSamplesBecomeReady: everything in deploy/samples (what `make demo`
// applies and the README points people to) applies cleanly and becomes
// Ready in a member.
func TestSamplesBecomeReady(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, alpha)
	// Samples of kinds the fleet does not run yet are not applied: their
	// CRDs and controllers are still being written.
	include := func(o *unstructured.Unstructured) bool {
		if _, fleethub := kinds[o.GetKind()]; !fleethub {
			return true
		}
		runs, why, _ := kindStatus(o.GetKind())
		if !runs {
			t.Logf("not applying %s %s: %s", o.GetKind(), o.GetName(), why)
		}
		return runs
	}
	applied, skipped, err := fleet.ApplySamples(ctx, alpha, ns, include)
	for _, s := range skipped {
		t.Logf("skipped sample %s", s)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 {
		t.Fatal("deploy/samples applied nothing")
	}
	for _, s := range applied {
		o := s.Object
		if _, fleethub := kinds[o.GetKind()]; !fleethub {
			continue
		}
		if o.GetKind() == "DomainManager" && !dnsConfigured() {
			t.Logf("not waiting for DomainManager %s from %s: the fleet's hub has no DNS provider configured", o.GetName(), s.File)
			continue
		}
		diagnoseOnFailure(t, framework.Object{Cluster: alpha, Resource: strings.ToLower(o.GetKind()), Namespace: ns, Name: o.GetName()})
		eventually(t, timeout, fmt.Sprintf("sample %s: %s %s Ready", s.File, o.GetKind(), o.GetName()), readyCondition(alpha, o))
	}
}

// readyCondition checks any fleethub object's Ready condition for its
// current generation.
func readyCondition(m string, o *unstructured.Unstructured) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(o.GroupVersionKind())
		if err := member(m).Get(ctx, client.ObjectKeyFromObject(o), cur); err != nil {
			return err
		}
		ready, _ := framework.Condition(cur, "Ready")
		if ready["status"] != "True" || ready["observedGeneration"] != fmt.Sprint(cur.GetGeneration()) {
			return fmt.Errorf("%s %s/%s not Ready for generation %d: %v", cur.GetKind(), cur.GetNamespace(), cur.GetName(), cur.GetGeneration(), ready)
		}
		return nil
	}
}
