package fleettest

import (
	"strings"

	"context"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sync"
	"testing"

	"github.com/fleethub/fleethub/pkg/config"
)

// Suite is the fleet and manager shared by one package's integration tests.
// The first test that calls Setup starts them, so unit tests in the same
// package need no Kubernetes binaries; TestMain calls Close.
type Suite struct {
	// Members are started with the fleethub CRDs and registered on the hub.
	Members []string
	// Unregistered members are started but not registered.
	Unregistered []string
	// Options shape the fleet (e.g. members without CRDs).
	Options Options
	// Configure adjusts the manager configuration before it starts.
	Configure func(*config.Config) error

	Fleet   *Fleet
	Manager *Manager

	once sync.Once
	err  error
}

// Setup starts the suite once and fails t if that did not work.
func (s *Suite) Setup(t testing.TB) {
	t.Helper()
	s.once.Do(func() { s.err = s.start() })
	if s.err != nil {
		t.Fatalf("starting the test fleet: %v", s.err)
	}
}

func (s *Suite) start() error {
	SetupLogging()
	ctx := context.Background()
	f, err := StartWith(s.Options, append(append([]string{}, s.Members...), s.Unregistered...)...)
	if err != nil {
		return err
	}
	s.Fleet = f
	for _, name := range s.Members {
		if err := f.Register(ctx, name); err != nil {
			return err
		}
	}
	cfg := TestConfig()
	if s.Configure != nil {
		if err := s.Configure(&cfg); err != nil {
			return err
		}
	}
	if s.Manager, err = f.StartManager(cfg); err != nil {
		return err
	}
	return s.Manager.WaitEngaged(ctx, s.Members...)
}

// Close stops the manager and the fleet, if they were started.
func (s *Suite) Close() {
	if s.Manager != nil {
		_ = s.Manager.Stop()
	}
	if s.Fleet != nil {
		s.Fleet.Stop()
	}
}

// Namespace creates, in each named member, a namespace named after the test,
// so tests sharing a fleet never see each other's objects.
func (f *Fleet) Namespace(t testing.TB, members ...string) string {
	t.Helper()
	name := strings.ToLower(t.Name())
	name = strings.NewReplacer("/", "-", "_", "-", " ", "-").Replace(name)
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.TrimRight(name, "-")
	for _, m := range members {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		Must(t, f.Members[m].Client.Create(context.Background(), ns))
	}
	return name
}
