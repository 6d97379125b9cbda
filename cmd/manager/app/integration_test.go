package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/cmd/manager/app"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/pkg/membercache"
)

// slowTransport delays every request to a member, like a slow apiserver or a
// slow admission webhook.
type slowTransport struct {
	rt    http.RoundTripper
	delay time.Duration
}

func (s slowTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	select {
	case <-time.After(s.delay):
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return s.rt.RoundTrip(r)
}

// startHub runs the real manager on a fleet whose member "slow" answers
// every request 200ms late.
func startHub(t *testing.T) (*fleettest.Fleet, *fleettest.Manager) {
	t.Helper()
	fleettest.SetupLogging()
	f, err := fleettest.Start("slow", "quick")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	cfg := fleettest.TestConfig()
	cfg.ResyncInterval = 10 * time.Minute // no resync traffic in the backlog
	mgr, prov, err := app.New(f.Hub.Config, cfg, app.Options{
		MemberRESTConfig: func(name string, rc *rest.Config) {
			if name == "slow" {
				rc.Wrap(func(rt http.RoundTripper) http.RoundTripper {
					return slowTransport{rt: rt, delay: 200 * time.Millisecond}
				})
			}
		},
		SkipControllerNameValidation: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Error("manager did not stop")
		}
	})
	for _, m := range []string{"slow", "quick"} {
		fleettest.Must(t, f.Register(ctx, m))
	}
	m := &fleettest.Manager{Manager: mgr, Provider: prov}
	fleettest.Must(t, fleettest.Eventually(ctx, 2*time.Minute, func() error {
		got := prov.Members()
		if !got["slow"] || !got["quick"] {
			return fmt.Errorf("members engaged: %v", got)
		}
		return nil
	}))
	return f, m
}

func webApp(ns, name string) *v1alpha1.WebApp {
	replicas := int32(1)
	return &v1alpha1.WebApp{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       v1alpha1.WebAppSpec{Image: "nginx:1.27", Replicas: &replicas, Port: 8080},
	}
}

func TestMembersShareWorkersAndCachesHoldOnlyOurs(t *testing.T) {
	f, m := startHub(t)
	ctx := context.Background()
	slow, quick := f.Members["slow"].Client, f.Members["quick"].Client
	for _, c := range []client.Client{slow, quick} {
		fleettest.Must(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}))
	}

	t.Run("a member with a backlog does not delay another", func(t *testing.T) {
		const backlog = 1000
		var wg sync.WaitGroup
		errs := make(chan error, backlog)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < backlog; i += 8 {
					if err := slow.Create(ctx, webApp("apps", fmt.Sprintf("backlog-%d", i))); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		fleettest.Must(t, quick.Create(ctx, webApp("apps", "urgent")))
		fleettest.Must(t, fleettest.Eventually(ctx, 5*time.Minute, func() error {
			return quick.Get(ctx, client.ObjectKey{Namespace: "apps", Name: "urgent"}, &appsv1.Deployment{})
		}))
		var deps appsv1.DeploymentList
		fleettest.Must(t, slow.List(ctx, &deps, client.InNamespace("apps")))
		pending := backlog - len(deps.Items)
		t.Logf("the quick member's WebApp got its Deployment with %d of the slow member's %d still waiting", pending, backlog)
		if pending < 100 {
			t.Fatalf("the quick member was served only after the slow member's backlog drained (%d of %d left)", pending, backlog)
		}
	})

	t.Run("CR sizes are bounded by the schema", func(t *testing.T) {
		tooManyEnv := webApp("apps", "too-many-env")
		for i := range 129 {
			tooManyEnv.Spec.Env = append(tooManyEnv.Spec.Env, corev1.EnvVar{Name: fmt.Sprintf("V%d", i), Value: "x"})
		}
		longArg := webApp("apps", "long-arg")
		longArg.Spec.InitContainer = &v1alpha1.InitContainerSpec{Image: "busybox:1.36", Args: []string{strings.Repeat("a", 4097)}}
		for _, app := range []*v1alpha1.WebApp{tooManyEnv, longArg} {
			err := quick.Create(ctx, app)
			if !apierrors.IsInvalid(err) {
				t.Fatalf("creating %s = %v, want the schema to refuse it", app.Name, err)
			}
			if !strings.Contains(err.Error(), "at most") && !strings.Contains(err.Error(), "Too long") && !strings.Contains(err.Error(), "Too many") {
				t.Fatalf("%s refused without naming the bound: %v", app.Name, err)
			}
		}
	})

	t.Run("labelled objects fleethub does not control are stubs", func(t *testing.T) {
		hostile := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "looks-managed", Namespace: "apps", Labels: map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue}},
			Data:       map[string][]byte{"blob": []byte(strings.Repeat("x", 256<<10))},
		}
		fleettest.Must(t, quick.Create(ctx, hostile))
		cl, err := m.Manager.GetCluster(ctx, "quick")
		fleettest.Must(t, err)
		raw := membercache.Unwrap(cl.GetCache())
		fleettest.Must(t, fleettest.Eventually(ctx, time.Minute, func() error {
			var s corev1.Secret
			if err := raw.Get(ctx, client.ObjectKeyFromObject(hostile), &s); err != nil {
				return err
			}
			if len(s.Data) != 0 || len(s.Labels) != 0 {
				return fmt.Errorf("the hub caches the hostile Secret in full: %d data keys, labels %v", len(s.Data), s.Labels)
			}
			return nil
		}))
		err = cl.GetClient().Get(ctx, client.ObjectKeyFromObject(hostile), &corev1.Secret{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("reading the hostile Secret through the member client = %v, want NotFound", err)
		}
		// A child a WebApp controls is cached in full.
		var dep appsv1.Deployment
		fleettest.Must(t, cl.GetClient().Get(ctx, client.ObjectKey{Namespace: "apps", Name: "urgent"}, &dep))
		if len(dep.Spec.Template.Spec.Containers) == 0 || len(dep.ManagedFields) == 0 {
			t.Fatalf("a controlled Deployment is not cached in full: %+v", dep.ObjectMeta)
		}
	})
}
