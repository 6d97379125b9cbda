//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/e2e/backend"
	"github.com/fleethub/fleethub/e2e/framework"
	"github.com/fleethub/fleethub/providers/dns/cloudflare/cloudflaretest"
)

// The fleet every scenario runs against: a hub and these two members.
const (
	alpha = "alpha"
	beta  = "beta"
)

var (
	fleet    *framework.Fleet
	progress = backend.Printer(os.Stderr)
	// timeout is how long a convergence may take; kind pulls nothing but
	// still starts real containers.
	timeout = 90 * time.Second
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

// prefix names the suite's clusters; FLEETHUB_E2E_PREFIX lets two checkouts
// run the suite side by side on one machine without sharing clusters.
func prefix() string {
	if p := os.Getenv("FLEETHUB_E2E_PREFIX"); p != "" {
		return p
	}
	return "fleethub-e2e-"
}

func run(m *testing.M) int {
	ctx := context.Background()
	name := os.Getenv("FLEETHUB_E2E_BACKEND")
	if name == "" {
		name = "kwok"
	}
	if name == "kind" {
		timeout = 4 * time.Minute
	}
	stateDir := filepath.Join(framework.ModuleRoot(), ".cache", "e2e", name)
	if old, err := framework.Load(ctx, stateDir, progress); err == nil {
		progress("removing the fleet an earlier run left in %s", stateDir)
		if err := old.Down(ctx); err != nil {
			progress("removing the old fleet: %v", err)
		}
	}
	// DomainManagers talk to a fake Cloudflare API in this process, which
	// the hub manager reaches over loopback.
	cloudflare = cloudflaretest.NewServer(dnsToken)
	defer cloudflare.Close()
	cloudflare.AddZone(dnsZone)
	opts := framework.Options{
		Backend:  name,
		Prefix:   prefix(),
		Members:  []string{alpha, beta},
		StateDir: stateDir,
		// Short probe and resync intervals: the scenarios stop apiservers
		// and expect the hub to notice within seconds.
		ManagerArgs: []string{"--resync-interval=30s", "--member-probe-interval=3s"},
		DNS: &framework.DNSOptions{
			Provider:         framework.DNSCloudflare,
			CloudflareAPIURL: cloudflare.BaseURL(),
			Token:            dnsToken,
			AllowedSuffixes:  dnsZone,
			Policy:           framework.SamplePolicy(dnsZone),
			HubID:            dnsHubID,
		},
		Kind:     framework.KindOptions{NodeImage: os.Getenv("KIND_NODE_IMAGE")},
		Progress: progress,
	}
	start := time.Now()
	f, err := framework.Up(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: bringing up the %s fleet failed: %v\n", name, err)
		if f != nil && f.Hub != nil {
			f.Diagnose(ctx, os.Stderr)
		}
		if f != nil && os.Getenv("FLEETHUB_E2E_KEEP") == "" {
			_ = f.Down(ctx)
		}
		return 1
	}
	fleet = f
	dnsReady = f.DNSEnabled(ctx)
	progress("fleet up in %s; running scenarios", time.Since(start).Round(100*time.Millisecond))
	reportMemory(f)

	code := m.Run()

	reportMemory(f)
	if code != 0 {
		fmt.Fprintf(os.Stderr, "----- hub manager log (last lines of %s) -----\n%s\n", f.ManagerLogPath(), f.Manager.LogTail(60))
	}
	if os.Getenv("FLEETHUB_E2E_KEEP") != "" {
		progress("FLEETHUB_E2E_KEEP is set: the fleet keeps running; kubeconfig %s; remove it with: go run ./e2e/cmd/demo down --state-dir %s",
			f.KubeconfigPath(), stateDir)
		return code
	}
	if err := f.Down(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: removing the fleet: %v\n", err)
	}
	return code
}

// reportMemory prints what the fleet costs: the manager's memory and, on
// kwok, each cluster's control-plane processes.
func reportMemory(f *framework.Fleet) {
	if f.Manager != nil {
		progress("hub manager RSS: %d MiB", f.Manager.RSS()>>20)
	}
	type pids interface{ ComponentPIDs(string) map[string]int }
	if b, ok := f.Backend.(pids); ok {
		for _, c := range append([]*framework.Cluster{f.Hub}, f.Members...) {
			var total int64
			for _, pid := range b.ComponentPIDs(c.BackendName) {
				total += framework.RSS(pid)
			}
			progress("cluster %s: control plane + kwok RSS %d MiB", c.Name, total>>20)
		}
	}
}

// member returns a member's client.
func member(name string) client.Client { return fleet.Member(name).Client }

// newNamespace creates a namespace named after the test in each member.
func newNamespace(t *testing.T, members ...string) string {
	t.Helper()
	name := strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-"))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-")
	for _, m := range members {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := member(m).Create(context.Background(), ns); err != nil {
			t.Fatalf("creating namespace %s in %s: %v", name, m, err)
		}
	}
	return name
}

// diagnoseOnFailure prints diagnostics for objs when the test fails.
func diagnoseOnFailure(t *testing.T, objs ...framework.Object) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			fleet.Diagnose(context.Background(), os.Stderr, objs...)
		}
	})
}

// eventually waits for check to pass, logging what it waits for and how
// long it took; it fails the test with the last error after d.
func eventually(t *testing.T, d time.Duration, what string, check func(ctx context.Context) error) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	last := time.Now()
	err := backend.Poll(ctx, d, 250*time.Millisecond, func() error {
		err := check(ctx)
		if err != nil && time.Since(last) > 15*time.Second {
			t.Logf("still waiting (%s) for %s: %v", time.Since(start).Round(time.Second), what, err)
			last = time.Now()
		}
		return err
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	t.Logf("%s after %s", what, time.Since(start).Round(10*time.Millisecond))
}

// never checks for d that check keeps passing (an object stays untouched).
func never(t *testing.T, d time.Duration, what string, check func(ctx context.Context) error) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := check(ctx); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%s held for %s", what, d)
}

func ptr[T any](v T) *T { return &v }
