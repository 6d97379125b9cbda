//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fleethub/fleethub/e2e/framework"
)

// TestDemoCommand runs what `make demo`, `make demo-status` and `make
// demo-down` run, in a state directory of its own: a fleet comes up with the
// samples Ready (DomainManagers in the second member in Conflict), a second
// `up` leaves the running fleet alone, and `down` stops the hub manager and
// removes every cluster. Only on kwok, where it costs seconds.
func TestDemoCommand(t *testing.T) {
	if fleet.Backend.Name() != "kwok" {
		t.Skipf("runs on kwok only (a second fleet on %s would double the suite's time)", fleet.Backend.Name())
	}
	ctx := context.Background()
	dir := t.TempDir()
	demo := filepath.Join(dir, "demo")
	build := exec.CommandContext(ctx, "go", "build", "-o", demo, "./e2e/cmd/demo")
	build.Dir = framework.ModuleRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the demo command: %v\n%s", err, out)
	}
	state := filepath.Join(dir, "state")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, demo, append(args, "--state-dir", state)...)
		cmd.Dir = framework.ModuleRoot()
		// The suite's prebuilt manager: the demo must not rebuild bin/e2e/manager under the running fleet.
		cmd.Env = append(os.Environ(), framework.ManagerBinaryEnv+"="+fleet.Bins.Manager)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("demo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var downed bool
	t.Cleanup(func() {
		if !downed {
			cmd := exec.Command(demo, "down", "--state-dir", state)
			_ = cmd.Run()
		}
	})

	out := run("up", "--backend", "kwok")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^alpha\s+yes\s+Ready\s`),
		regexp.MustCompile(`(?m)^beta\s+yes\s+Ready\s`),
		regexp.MustCompile(`(?m)^alpha\s+WebApp\s+default\s+hello\s+True\s`),
		regexp.MustCompile(`(?m)^beta\s+WebApp\s+default\s+hello\s+True\s`),
		regexp.MustCompile(`export KUBECONFIG=`),
		regexp.MustCompile(`make demo-down`),
	} {
		if !want.MatchString(out) {
			t.Errorf("demo up output lacks %s:\n%s", want, out)
		}
	}
	loaded, err := framework.Load(ctx, state, nil)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Manager == nil || !loaded.Manager.Running() {
		t.Fatalf("the demo's hub manager is not running after up: %+v", loaded.Manager)
	}
	manager := loaded.Manager

	if out := run("up", "--backend", "kwok"); !strings.Contains(out, "already running") {
		t.Errorf("a second up did not find the running fleet:\n%s", out)
	}
	if out := run("status"); !regexp.MustCompile(`(?m)^beta\s+SimpleDB\s+default\s+orders\s+True\s`).MatchString(out) {
		t.Errorf("demo status lacks beta's SimpleDB:\n%s", out)
	}

	run("down")
	downed = true
	if manager.Running() {
		t.Errorf("the hub manager (pid %d) still runs after down", manager.PID)
	}
	if clusters, _ := loaded.Backend.List(ctx, ""); len(clusters) > 0 {
		t.Errorf("clusters left after down: %v", clusters)
	}
	if _, err := os.Stat(filepath.Join(state, "state.json")); !os.IsNotExist(err) {
		t.Errorf("state.json left after down (%v)", err)
	}
}
