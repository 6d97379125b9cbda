// Command demo runs fleethub on one machine for people to try: a hub and two
// member clusters (kwok by default, kind with --backend kind), the hub
// manager as a background process, both members registered, and the samples
// from deploy/samples applied in each. It is what `make demo`, `make
// demo-status` and `make demo-down` run.
//
//	go run ./e2e/cmd/demo up     [--backend kwok|kind] [--state-dir .cache/demo]
//	go run ./e2e/cmd/demo status [--state-dir .cache/demo]
//	go run ./e2e/cmd/demo down   [--state-dir .cache/demo]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fleethub/fleethub/e2e/backend"
	"github.com/fleethub/fleethub/e2e/framework"
)

// members are the demo's member clusters.
var members = []string{"alpha", "beta"}

// sampleNamespace is where samples without a namespace go: the default one,
// so `kubectl get webapps` shows them.
const sampleNamespace = "default"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: demo up|status|down [--backend kwok|kind] [--state-dir DIR]")
	}
	fs := flag.NewFlagSet("demo "+args[0], flag.ContinueOnError)
	backendName := fs.String("backend", envOr("BACKEND", "kwok"), "cluster backend: kwok or kind")
	stateDir := fs.String("state-dir", filepath.Join(framework.ModuleRoot(), ".cache", "demo"), "where the demo keeps kubeconfigs, logs and pids")
	nodeImage := fs.String("kind-node-image", os.Getenv("KIND_NODE_IMAGE"), "kind node image (kind backend)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	progress := backend.Printer(os.Stderr)
	switch args[0] {
	case "up":
		return up(ctx, out, progress, *backendName, *stateDir, *nodeImage)
	case "status":
		f, err := load(ctx, *stateDir, progress)
		if err != nil {
			return err
		}
		return status(ctx, out, f)
	case "down":
		return down(ctx, progress, *stateDir)
	default:
		return fmt.Errorf("unknown command %q (want up, status or down)", args[0])
	}
}

func up(ctx context.Context, out io.Writer, progress backend.Progress, backendName, stateDir, nodeImage string) error {
	if f, err := load(ctx, stateDir, progress); err == nil {
		if f.Manager != nil && f.Manager.Running() {
			progress("a demo fleet is already running (state in %s); `make demo-down` removes it", rel(stateDir))
			return status(ctx, out, f)
		}
		progress("found an earlier demo fleet whose hub manager is gone; removing it first")
		if err := f.Down(ctx); err != nil {
			return fmt.Errorf("removing the earlier demo fleet: %w", err)
		}
	}
	start := time.Now()
	f, err := framework.Up(ctx, framework.Options{
		Backend:  backendName,
		Prefix:   "fleethub-demo-",
		Members:  members,
		StateDir: stateDir,
		Detach:   true,
		DNS:      demoDNS(),
		Kind:     framework.KindOptions{NodeImage: nodeImage},
		Progress: progress,
	})
	if err != nil {
		if f != nil && f.Hub != nil {
			f.Diagnose(ctx, os.Stderr)
		}
		return fmt.Errorf("%w\n(the clusters are left for inspection; `make demo-down` removes them)", err)
	}
	for _, m := range members {
		applied, skipped, err := f.ApplySamples(ctx, m, sampleNamespace, nil)
		if err != nil {
			return fmt.Errorf("applying deploy/samples to %s: %w", m, err)
		}
		progress("applied %d samples from deploy/samples to %s", len(applied), m)
		for _, s := range skipped {
			progress("  skipped %s", s)
		}
	}
	waitReady(ctx, f, progress, 2*time.Minute)
	progress("demo fleet ready after %s", time.Since(start).Round(100*time.Millisecond))
	if err := status(ctx, out, f); err != nil {
		return err
	}
	nextSteps(out, f)
	return nil
}

// settled are Ready=False reasons that are the intended outcome, not a step
// on the way: the samples claim the same DNS names in both members, and the
// later claimant reports Conflict while the first one keeps the record.
var settled = map[string]bool{"Conflict": true}

// waitReady waits until every fleethub object in the members is Ready (or
// settled), reporting progress; objects still not Ready are shown in the
// status table.
func waitReady(ctx context.Context, f *framework.Fleet, progress backend.Progress, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	last := time.Time{}
	for {
		rows, err := f.Status(ctx)
		pending := 0
		for _, r := range rows {
			if r.Ready != "True" && !settled[r.Reason] {
				pending++
			}
		}
		if err == nil && pending == 0 {
			progress("all %d fleethub objects are Ready", len(rows))
			return
		}
		if time.Now().After(deadline) {
			progress("%d of %d fleethub objects are not Ready after %s; see the table below", pending, len(rows), timeout)
			return
		}
		if time.Since(last) > 10*time.Second {
			progress("waiting for %d fleethub objects to become Ready", pending)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func load(ctx context.Context, stateDir string, progress backend.Progress) (*framework.Fleet, error) {
	f, err := framework.Load(ctx, stateDir, progress)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no demo fleet in %s (start one with `make demo`)", rel(stateDir))
	}
	if err != nil {
		return nil, err
	}
	return f, f.Connect(ctx)
}

func status(ctx context.Context, out io.Writer, f *framework.Fleet) error {
	fmt.Fprintf(out, "\nfleethub demo — %s backend, hub manager ", f.Backend.Name())
	if f.Manager != nil && f.Manager.Running() {
		fmt.Fprintf(out, "running (pid %d)\n\n", f.Manager.PID)
	} else {
		fmt.Fprintf(out, "NOT running (see %s)\n\n", rel(f.ManagerLogPath()))
	}
	return f.PrintStatus(ctx, out)
}

func down(ctx context.Context, progress backend.Progress, stateDir string) error {
	f, err := framework.Load(ctx, stateDir, progress)
	if errors.Is(err, fs.ErrNotExist) {
		progress("no demo fleet in %s; nothing to do", rel(stateDir))
		return nil
	}
	if err != nil {
		return err
	}
	if err := f.Down(ctx); err != nil {
		return err
	}
	progress("demo fleet removed")
	return nil
}

func nextSteps(out io.Writer, f *framework.Fleet) {
	kubectl := f.Bins.Kubectl()
	fmt.Fprintf(out, `
Try it (contexts: hub, %s):

  export KUBECONFIG=%s
  alias kubectl=%s

  kubectl --context alpha get webapps                       # the samples, reconciled from the hub
  kubectl --context beta get webapps,deployments,services,pods
  kubectl --context alpha patch webapp hello --type merge -p '{"spec":{"replicas":4}}'
  kubectl --context beta scale deployment hello --replicas 7 # drift: the hub puts it back to 2
  kubectl --context hub -n %s get secrets -o yaml     # member registrations and their state
`, strings.Join(f.Options.Members, ", "), f.KubeconfigPath(), kubectl, framework.HubNamespace)
	if f.Bins.Plugin != "" {
		fmt.Fprintf(out, "  %s list --hub-context hub            # the members as the hub sees them\n", rel(f.Bins.Plugin))
	}
	fmt.Fprintf(out, `
  tail -f %s                            # the hub manager's log
  make demo-status                                          # this table again
  make demo-down                                            # stop the hub manager, delete the clusters

`, rel(f.ManagerLogPath()))
	if f.Backend.Name() == "kwok" {
		fmt.Fprintln(out, "Nodes and pods are simulated by kwok: Deployments become available, but no container runs.")
	}
	if f.DNS != nil && f.DNS.Provider == framework.DNSInMemory {
		fmt.Fprintf(out, "DomainManagers use the hub's in-memory DNS provider (zones %s); set CLOUDFLARE_API_TOKEN (and\nFLEETHUB_DNS_ALLOWED_SUFFIXES) before `make demo` to write real records at Cloudflare.\n", f.DNS.AllowedSuffixes)
	}
	fmt.Fprintln(out, "The DomainManager samples claim the same names in both members: the later claimant reports Conflict.")
}

// rel shortens paths inside the working directory.
func rel(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	r, err := filepath.Rel(wd, path)
	if err != nil || strings.HasPrefix(r, "..") {
		return path
	}
	return r
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// demoDNS is the hub's DNS provider for the demo: Cloudflare when a token is
// given, else the in-memory provider with the samples' zone.
func demoDNS() *framework.DNSOptions {
	suffixes := envOr("FLEETHUB_DNS_ALLOWED_SUFFIXES", "example.com")
	if token := os.Getenv("CLOUDFLARE_API_TOKEN"); token != "" {
		return &framework.DNSOptions{Provider: framework.DNSCloudflare, Token: token, AllowedSuffixes: suffixes, HubID: "fleethub-demo", Policy: framework.SamplePolicy(strings.Split(suffixes, ",")...)}
	}
	return &framework.DNSOptions{Provider: framework.DNSInMemory, AllowedSuffixes: suffixes, HubID: "fleethub-demo", Policy: framework.SamplePolicy(strings.Split(suffixes, ",")...)}
}
