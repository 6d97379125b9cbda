// Package framework runs a whole fleet on one machine for the e2e suite and
// `make demo`: a hub and member clusters from a backend (kwok or kind), the
// fleethub CRDs, member RBAC and storage in every member, the hub manager as
// a process next to the clusters, and members registered on the hub the way
// a platform team does it. Everything here is backend-neutral, so the
// scenarios run the same code on every backend.
package framework

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleethub/fleethub/e2e/backend"
	"github.com/fleethub/fleethub/e2e/backend/kind"
)

// ManagerBinaryEnv names a prebuilt hub manager to use instead of building
// cmd/manager (for example a release binary under test).
const ManagerBinaryEnv = "FLEETHUB_MANAGER_BINARY"

// Binaries are the programs a fleet needs, all built from source.
type Binaries struct {
	// K8sBinDir has etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler and kubectl (hack/test-bins.sh).
	K8sBinDir string
	// KwokBinDir has kwok and kwokctl (hack/kwok-bins.sh); empty unless needed.
	KwokBinDir string
	// Manager is the hub manager (cmd/manager).
	Manager string
	// Plugin is kubectl-fleethub (cmd/kubectl-fleethub) when that command
	// exists in the tree; empty otherwise.
	Plugin string
}

// Kubectl is the kubectl binary.
func (b Binaries) Kubectl() string { return filepath.Join(b.K8sBinDir, "kubectl") }

// controlPlaneBinaries are what hack/test-bins.sh builds for a fleet.
var controlPlaneBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"}

// BuildBinaries builds (or finds cached) everything the fleet needs. The
// hack scripts reuse what is already under bin/, so a warm run costs seconds.
func BuildBinaries(ctx context.Context, backendName string, progress backend.Progress) (Binaries, error) {
	root := ModuleRoot()
	var b Binaries
	var err error
	var appImages chan error
	if backendName == "kind" {
		// Before any build: without Docker nothing below is of use.
		if err := kind.CheckDocker(ctx); err != nil {
			return b, err
		}
		// The application images are mostly debootstrap, which waits on the
		// network and the disk: build them while the CPU compiles the
		// binaries and the node image. debootstrap is installed first, once,
		// so the two builders never race for apt's lock.
		if _, err := script(ctx, filepath.Join(root, "hack", "debian-packages.sh"), "debootstrap"); err != nil {
			return b, err
		}
		progress("building the application images if missing (hack/app-images.sh), alongside the rest")
		appImages = make(chan error, 1)
		go func() {
			_, err := script(ctx, filepath.Join(root, "hack", "app-images.sh"))
			appImages <- err
		}()
	}
	progress("building Kubernetes binaries from source if not cached (hack/test-bins.sh)")
	if b.K8sBinDir, err = script(ctx, filepath.Join(root, "hack", "test-bins.sh"), controlPlaneBinaries...); err == nil &&
		backendName == "kind" && os.Getenv("KIND_NODE_IMAGE") == "" {
		// It reuses the Kubernetes binaries built above.
		progress("building the kind node image offline if missing (hack/kind-node-image.sh)")
		_, err = script(ctx, filepath.Join(root, "hack", "kind-node-image.sh"))
	}
	if appImages != nil {
		if appErr := <-appImages; err == nil {
			err = appErr
		}
	}
	if err != nil {
		return b, err
	}
	if backendName == "kwok" {
		progress("building kwok and kwokctl from source if not cached (hack/kwok-bins.sh)")
		if b.KwokBinDir, err = script(ctx, filepath.Join(root, "hack", "kwok-bins.sh")); err != nil {
			return b, err
		}
	}
	if b.Manager = os.Getenv(ManagerBinaryEnv); b.Manager != "" {
		progress("using the hub manager %s (%s)", b.Manager, ManagerBinaryEnv)
	} else {
		b.Manager = filepath.Join(root, "bin", "e2e", "manager")
		progress("building the hub manager (cmd/manager)")
		if err := goBuild(ctx, root, b.Manager, "./cmd/manager"); err != nil {
			return b, err
		}
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "kubectl-fleethub")); err == nil {
		plugin := filepath.Join(root, "bin", "e2e", "kubectl-fleethub")
		progress("building the registration plugin (cmd/kubectl-fleethub)")
		if err := goBuild(ctx, root, plugin, "./cmd/kubectl-fleethub"); err != nil {
			// Registration falls back to Secrets, which every hub accepts.
			progress("cannot build kubectl-fleethub; members will be registered by Secret: %v", err)
		} else {
			b.Plugin = plugin
		}
	}
	return b, nil
}

// script runs a hack/ builder whose last stdout line is its output directory;
// its progress (stderr) goes to ours.
func script(ctx context.Context, path string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

func goBuild(ctx context.Context, root, out, pkg string) error {
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	if d := time.Since(start); d > 10*time.Second {
		fmt.Fprintf(os.Stderr, ">> built %s in %s\n", pkg, d.Round(time.Second))
	}
	return nil
}

// ModuleRoot is the fleethub checkout this code runs from.
func ModuleRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/fleethub/fleethub\n")) {
			return d
		}
	}
	return dir
}
