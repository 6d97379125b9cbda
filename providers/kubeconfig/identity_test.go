package kubeconfig_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/pkg/membersecret"
)

// identityOf is the member's identity as the hub should record it.
func identityOf(t *testing.T, member string) string {
	t.Helper()
	ns := &corev1.Namespace{}
	fleettest.Must(t, fleet.Members[member].Client.Get(context.Background(), client.ObjectKey{Name: membersecret.IdentityNamespace}, ns))
	return string(ns.UID)
}

func hubEvents(t *testing.T, namespace, secret, reason string) int {
	t.Helper()
	list := &eventsv1.EventList{}
	fleettest.Must(t, fleet.Hub.Client.List(context.Background(), list, client.InNamespace(namespace)))
	n := 0
	for _, e := range list.Items {
		if e.Regarding.Kind == "Secret" && e.Regarding.Name == secret && (reason == "" || e.Reason == reason) {
			n++ // repeats of one Event are counted in its series
			if e.Series != nil {
				n += int(e.Series.Count)
			}
		}
	}
	return n
}

func memberEvents(t *testing.T, member string) int {
	t.Helper()
	list := &eventsv1.EventList{}
	fleettest.Must(t, fleet.Members[member].Client.List(context.Background(), list))
	n := 0
	for _, e := range list.Items {
		n += max(1, int(e.DeprecatedCount))
		if e.Series != nil {
			n += int(e.Series.Count)
		}
	}
	return n
}

// The same cluster under a second Secret is refused, names the first, costs
// the member nothing, and the first keeps working untouched.
func TestSameClusterRegisteredTwice(t *testing.T) {
	setup(t)
	ctx := context.Background()
	waitState(t, "m1", membersecret.StateReady, "")
	id := identityOf(t, "m1")
	eventually(t, func() error {
		a, err := annotations("m1")
		if err != nil {
			return err
		}
		if a[membersecret.AnnotationClusterIdentity] != id {
			return fmt.Errorf("m1 records identity %q, want %q", a[membersecret.AnnotationClusterIdentity], id)
		}
		return nil
	})
	engaged, err := mgr.Provider.Get(ctx, "m1")
	fleettest.Must(t, err)

	kc, err := fleet.Kubeconfig("m1")
	fleettest.Must(t, err)
	fleettest.Must(t, fleet.PutSecret(ctx, "m1-again", map[string][]byte{membersecret.Key: kc}))
	defer func() { _ = fleet.Unregister(ctx, "m1-again") }()
	a := waitState(t, "m1-again", membersecret.StateRejected, membersecret.ReasonDuplicateCluster)
	if !strings.Contains(a[membersecret.AnnotationMessage], fleettest.HubNamespace+"/m1") {
		t.Errorf("message %q does not name the Secret holding the cluster", a[membersecret.AnnotationMessage])
	}
	if got := a[membersecret.AnnotationClusterIdentity]; got != "" {
		t.Errorf("the duplicate records identity %q; only the holder may", got)
	}
	if mgr.Provider.Members()["m1-again"] {
		t.Fatal("the duplicate is engaged")
	}

	// Two resync intervals: the duplicate sends nothing but its identity
	// read, writes nothing, and neither it nor the member gets more Events.
	time.Sleep(time.Second) // let the Rejected Event land
	before := fleet.Requests.Snapshot()
	hubBefore, memberBefore := hubEvents(t, fleettest.HubNamespace, "m1-again", ""), memberEvents(t, "m1")
	time.Sleep(2*fleettest.TestConfig().ResyncInterval + time.Second)
	if w := fleet.Requests.Writes(before, "m1-again"); len(w) != 0 {
		t.Errorf("the duplicate wrote to the member: %v", w)
	}
	for k, n := range fleet.Requests.Snapshot()["m1-again"] {
		if n != before["m1-again"][k] && k != "GET /api/v1/namespaces/kube-system" {
			t.Errorf("the duplicate sent %s x%d; only the identity read is allowed", k, n-before["m1-again"][k])
		}
	}
	if now := hubEvents(t, fleettest.HubNamespace, "m1-again", ""); now != hubBefore {
		t.Errorf("Events on the duplicate's Secret grew from %d to %d", hubBefore, now)
	}
	if n := hubEvents(t, fleettest.HubNamespace, "m1-again", string(membersecret.StateRejected)); n != 1 {
		t.Errorf("%d Rejected Events on the duplicate's Secret, want 1", n)
	}
	if now := memberEvents(t, "m1"); now != memberBefore {
		t.Errorf("Events in the member grew from %d to %d while the duplicate was registered", memberBefore, now)
	}

	// The first registration was not touched and keeps reconciling.
	if cl, err := mgr.Provider.Get(ctx, "m1"); err != nil || cl != engaged {
		t.Errorf("m1 was re-engaged or lost (%v)", err)
	}
	reconciles(t, "m1")
}

// The holder is decided the same way after a restart, and a duplicate takes
// over once the holder's Secret is gone.
func TestDuplicateSurvivesRestartAndTakesOver(t *testing.T) {
	setup(t)
	ctx := context.Background()
	const ns = "fleethub-dup"
	fleettest.Must(t, fleet.Hub.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	cfg := fleettest.TestConfig()
	cfg.HubNamespace = ns
	state := func(m *fleettest.Manager, name string, want membersecret.State) func() error {
		return func() error {
			if st, _, _ := m.Provider.MemberState(name); st != want {
				return fmt.Errorf("%s is %q, want %s", name, st, want)
			}
			return nil
		}
	}
	put := func(name string) {
		kc, err := fleet.Kubeconfig("m2")
		fleettest.Must(t, err)
		fleettest.Must(t, fleet.PutSecretIn(ctx, ns, name, map[string][]byte{membersecret.Key: kc}))
	}
	a, err := fleet.StartManager(cfg)
	fleettest.Must(t, err)
	put("zz-first")
	eventually(t, state(a, "zz-first", membersecret.StateReady))
	// Sorts first and would win a tie on name, but the identity is recorded
	// on zz-first already.
	put("aa-second")
	eventually(t, state(a, "aa-second", membersecret.StateRejected))
	fleettest.Must(t, a.Stop())

	b, err := fleet.StartManager(cfg)
	fleettest.Must(t, err)
	defer func() { _ = b.Stop() }()
	eventually(t, state(b, "zz-first", membersecret.StateReady))
	eventually(t, state(b, "aa-second", membersecret.StateRejected))
	// Stable, not a race won once.
	time.Sleep(3 * cfg.MemberProbeInterval)
	fleettest.Must(t, state(b, "aa-second", membersecret.StateRejected)())
	fleettest.Must(t, state(b, "zz-first", membersecret.StateReady)())

	fleettest.Must(t, fleet.Hub.Client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "zz-first"}}))
	eventually(t, state(b, "aa-second", membersecret.StateReady))
	eventually(t, func() error {
		s := &corev1.Secret{}
		if err := fleet.Hub.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "aa-second"}, s); err != nil {
			return err
		}
		if s.Annotations[membersecret.AnnotationClusterIdentity] != identityOf(t, "m2") {
			return fmt.Errorf("aa-second does not record the identity after taking over")
		}
		return nil
	})
}

// A Secret whose cluster is not the one it recorded (rebuilt, or pointed at
// another cluster) is announced by an Event and records the new identity.
func TestNewClusterUnderTheSameSecretIsAnnounced(t *testing.T) {
	setup(t)
	ctx := context.Background()
	kc, err := fleet.Kubeconfig("m3")
	fleettest.Must(t, err)
	fleettest.Must(t, fleet.PutSecret(ctx, "rebuilt", map[string][]byte{membersecret.Key: kc}))
	defer func() { _ = fleet.Unregister(ctx, "rebuilt") }()
	waitState(t, "rebuilt", membersecret.StateMissingCRDs, "")
	eventually(t, func() error {
		if a, _ := annotations("rebuilt"); a[membersecret.AnnotationClusterIdentity] != identityOf(t, "m3") {
			return fmt.Errorf("identity not recorded yet")
		}
		return nil
	})
	if n := hubEvents(t, fleettest.HubNamespace, "rebuilt", membersecret.ReasonIdentityChanged); n != 0 {
		t.Fatalf("%d identity-change Events for a first registration", n)
	}

	kc, err = fleet.Kubeconfig("m4")
	fleettest.Must(t, err)
	fleettest.Must(t, fleet.PutSecret(ctx, "rebuilt", map[string][]byte{membersecret.Key: kc}))
	eventually(t, func() error {
		if a, _ := annotations("rebuilt"); a[membersecret.AnnotationClusterIdentity] != identityOf(t, "m4") {
			return fmt.Errorf("new identity not recorded yet")
		}
		if hubEvents(t, fleettest.HubNamespace, "rebuilt", membersecret.ReasonIdentityChanged) != 1 {
			return fmt.Errorf("no %s Event", membersecret.ReasonIdentityChanged)
		}
		return nil
	})
}
