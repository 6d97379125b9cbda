// Package kwok is the e2e backend without Docker: every cluster is a real
// control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) running as local processes, plus kwok, which simulates
// nodes and makes pods Running and Ready on them. Deployments therefore
// become available the way they do on a real cluster (the real controller
// manager creates ReplicaSets and Pods), but no container ever runs.
//
// Clusters are driven by kwokctl with its binary runtime, pointed at
// binaries built from source (hack/test-bins.sh, hack/kwok-bins.sh), so it
// never downloads anything, and every component listens on 127.0.0.1 only.
package kwok

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fleethub/fleethub/e2e/backend"
)

// Options configure the kwok backend.
type Options struct {
	// WorkDir holds kwokctl's state: WorkDir/clusters/<name>/ has each
	// cluster's kubeconfig, pki, etcd data, pid files and logs.
	WorkDir string
	// K8sBinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler and kubectl (hack/test-bins.sh prints it).
	K8sBinDir string
	// KwokBinDir holds kwok and kwokctl (hack/kwok-bins.sh prints it).
	KwokBinDir string
	// Nodes is the number of simulated nodes per cluster (default 2).
	Nodes int
	// Progress reports long steps; nil prints nothing.
	Progress backend.Progress
}

// Backend runs clusters with kwokctl.
type Backend struct {
	opts    Options
	kwokctl string
	config  string
}

var _ backend.Backend = &Backend{}

// k8sBinaries are the control-plane binaries kwokctl is pointed at.
var k8sBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"}

// New checks the binaries and writes the kwokctl configuration.
func New(opts Options) (*Backend, error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 2
	}
	if opts.Progress == nil {
		opts.Progress = backend.Discard
	}
	var missing []string
	for _, b := range k8sBinaries {
		if !executable(filepath.Join(opts.K8sBinDir, b)) {
			missing = append(missing, filepath.Join(opts.K8sBinDir, b))
		}
	}
	for _, b := range []string{"kwok", "kwokctl"} {
		if !executable(filepath.Join(opts.KwokBinDir, b)) {
			missing = append(missing, filepath.Join(opts.KwokBinDir, b))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("kwok backend: missing binaries %v (build them with hack/test-bins.sh %s and hack/kwok-bins.sh)",
			missing, strings.Join(k8sBinaries, " "))
	}
	dir, err := filepath.Abs(opts.WorkDir)
	if err != nil {
		return nil, err
	}
	opts.WorkDir = dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b := &Backend{opts: opts, kwokctl: filepath.Join(opts.KwokBinDir, "kwokctl"), config: filepath.Join(dir, "kwok.yaml")}
	if err := os.WriteFile(b.config, []byte(b.configuration()), 0o644); err != nil {
		return nil, err
	}
	return b, nil
}

// configuration is kwokctl's configuration file. It sits at kwokctl's
// default path inside the work directory, so every kwokctl command run with
// KWOK_WORKDIR set reads it, not only `create cluster`.
func (b *Backend) configuration() string {
	k := func(name string) string { return strconv.Quote(filepath.Join(b.opts.K8sBinDir, name)) }
	return fmt.Sprintf(`# Written by fleethub's e2e kwok backend; rewritten on every run.
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  # kwokctl binds every component to all interfaces unless told otherwise.
  bindAddress: 127.0.0.1
  etcdBinary: %s
  kubeApiserverBinary: %s
  kubeControllerManagerBinary: %s
  kubeSchedulerBinary: %s
  kubectlBinary: %s
  kwokControllerBinary: %s
# Without a kubelet nothing restarts a controller manager or scheduler that
# exits, and both exit when they lose their leader lease, which any
# apiserver outage longer than their renew deadline causes. Each cluster runs
# one of each, so leader election has nothing to decide.
componentsPatches:
- name: kube-controller-manager
  extraArgs:
  - key: leader-elect
    value: "false"
- name: kube-scheduler
  extraArgs:
  - key: leader-elect
    value: "false"
`, k("etcd"), k("kube-apiserver"), k("kube-controller-manager"), k("kube-scheduler"), k("kubectl"),
		strconv.Quote(filepath.Join(b.opts.KwokBinDir, "kwok")))
}

// Name implements backend.Backend.
func (b *Backend) Name() string { return "kwok" }

func (b *Backend) clusterDir(name string) string {
	return filepath.Join(b.opts.WorkDir, "clusters", name)
}

// run runs kwokctl with the work directory set, returning its output on error.
func (b *Backend) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, b.kwokctl, append([]string{"--config", b.config}, args...)...)
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+b.opts.WorkDir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kwokctl %s: %w\n%s", strings.Join(args, " "), err, tail(out.String(), 40))
	}
	return nil
}

// scratchKubeconfig is where kwokctl may add its own contexts; fleethub never
// reads it, and it keeps kwokctl away from ~/.kube/config.
func (b *Backend) scratchKubeconfig() string {
	return filepath.Join(b.opts.WorkDir, "kwokctl-kubeconfig.yaml")
}

// Create implements backend.Backend. Clusters are created one after the
// other: kwokctl picks free ports per cluster and parallel runs could pick
// the same ones. Each takes a few seconds.
func (b *Backend) Create(ctx context.Context, names ...string) error {
	for _, name := range names {
		start := time.Now()
		if _, err := os.Stat(filepath.Join(b.clusterDir(name), "kubeconfig.yaml")); err == nil {
			b.opts.Progress("kwok: cluster %s exists; making sure all its components run", name)
			if err := b.run(ctx, "start", "cluster", "--name", name); err != nil {
				return err
			}
		} else {
			b.opts.Progress("kwok: creating cluster %s", name)
			if err := b.run(ctx, "create", "cluster", "--name", name, "--kubeconfig", b.scratchKubeconfig(), "--wait", "2m"); err != nil {
				return err
			}
		}
		if err := b.run(ctx, "scale", "node", "--name", name, "--replicas", strconv.Itoa(b.opts.Nodes)); err != nil {
			return err
		}
		if err := b.waitServing(ctx, name, 2*time.Minute); err != nil {
			return fmt.Errorf("cluster %s: %w", name, err)
		}
		b.opts.Progress("kwok: cluster %s serves (%d simulated nodes) after %s", name, b.opts.Nodes, time.Since(start).Round(100*time.Millisecond))
	}
	return nil
}

func (b *Backend) waitServing(ctx context.Context, name string, timeout time.Duration) error {
	kc, err := b.Kubeconfig(ctx, name, backend.Host)
	if err != nil {
		return err
	}
	cfg, err := backend.RESTConfig(kc)
	if err != nil {
		return err
	}
	return backend.WaitServing(ctx, cfg, timeout)
}

// Kubeconfig implements backend.Backend. Pods on kwok are simulated, so the
// in-cluster view is the host's.
func (b *Backend) Kubeconfig(_ context.Context, name string, _ backend.View) ([]byte, error) {
	return backend.FlattenKubeconfig(filepath.Join(b.clusterDir(name), "kubeconfig.yaml"), name)
}

// LoadImages implements backend.Backend: kwok pods run no containers.
func (b *Backend) LoadImages(context.Context, string, ...string) error { return nil }

// StopAPIServer implements backend.Backend: it terminates the kube-apiserver
// process kwokctl started (found through kwokctl's pid file and checked by
// its command line, so a recycled pid is never signalled).
func (b *Backend) StopAPIServer(ctx context.Context, name string) error {
	pidFile := filepath.Join(b.clusterDir(name), "pids", "kube-apiserver.pid")
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		return fmt.Errorf("cluster %s: reading the apiserver pid: %w", name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return fmt.Errorf("cluster %s: bad pid file %s: %w", name, pidFile, err)
	}
	if !processIs(pid, "kube-apiserver") {
		return fmt.Errorf("cluster %s: pid %d from %s is not a running kube-apiserver", name, pid, pidFile)
	}
	b.opts.Progress("kwok: stopping kube-apiserver of %s (pid %d)", name, pid)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	// kwokctl treats a process that is still shutting down as running and
	// would not start a new one, so wait until it is gone. A graceful
	// shutdown can take a minute (open watches); an outage need not wait.
	gone := func() error {
		if processIs(pid, "kube-apiserver") {
			return fmt.Errorf("kube-apiserver pid %d still running", pid)
		}
		return nil
	}
	if err := backend.Poll(ctx, 5*time.Second, 100*time.Millisecond, gone); err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if err := backend.Poll(ctx, 30*time.Second, 100*time.Millisecond, gone); err != nil {
			return fmt.Errorf("cluster %s: %w", name, err)
		}
	}
	return nil
}

// StartAPIServer implements backend.Backend: `kwokctl start cluster` starts
// whatever component of the cluster is not running.
func (b *Backend) StartAPIServer(ctx context.Context, name string) error {
	b.opts.Progress("kwok: starting kube-apiserver of %s", name)
	if err := b.run(ctx, "start", "cluster", "--name", name); err != nil {
		return err
	}
	return b.waitServing(ctx, name, 2*time.Minute)
}

// Delete implements backend.Backend.
func (b *Backend) Delete(ctx context.Context, names ...string) error {
	var errs []error
	for _, name := range names {
		if _, err := os.Stat(b.clusterDir(name)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		b.opts.Progress("kwok: deleting cluster %s", name)
		if err := b.run(ctx, "delete", "cluster", "--name", name, "--kubeconfig", b.scratchKubeconfig()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// List implements backend.Backend.
func (b *Backend) List(_ context.Context, prefix string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(b.opts.WorkDir, "clusters"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// DumpLogs implements backend.Backend.
func (b *Backend) DumpLogs(_ context.Context, name string, w io.Writer) {
	logs, _ := filepath.Glob(filepath.Join(b.clusterDir(name), "logs", "*.log"))
	sort.Strings(logs)
	for _, l := range logs {
		raw, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		fmt.Fprintf(w, "----- %s: %s (last lines) -----\n%s\n", name, filepath.Base(l), tail(string(raw), 30))
	}
}

// ComponentPIDs returns the pids kwokctl recorded for a cluster's components.
func (b *Backend) ComponentPIDs(name string) map[string]int {
	out := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(b.clusterDir(name), "pids", "*.pid"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil {
			out[strings.TrimSuffix(filepath.Base(f), ".pid")] = pid
		}
	}
	return out
}

// processIs reports whether pid runs and its command line mentions name.
func processIs(pid int, name string) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		// A zombie has exited; only its parent has not collected it yet.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	return bytes.Contains(raw, []byte(name))
}

func executable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Listeners returns the local addresses (ip:port) each component of a
// cluster listens on, read from /proc: a socket inode held by the
// component's process that /proc/net/tcp{,6} lists in LISTEN state.
func (b *Backend) Listeners(name string) (map[string][]string, error) {
	listening := map[string]string{} // socket inode → local address
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 10 || fields[3] != "0A" { // 0A: TCP_LISTEN
				continue
			}
			listening[fields[9]] = decodeProcAddr(fields[1])
		}
	}
	out := map[string][]string{}
	for component, pid := range b.ComponentPIDs(name) {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			return nil, fmt.Errorf("%s (pid %d): %w", component, pid, err)
		}
		for _, fd := range fds {
			target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			if addr, ok := listening[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")]; ok {
				out[component] = append(out[component], addr)
			}
		}
	}
	return out, nil
}

// decodeProcAddr turns /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080"
// (IPv6 addresses come as four little-endian 32-bit words).
func decodeProcAddr(s string) string {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return s
	}
	port, _ := strconv.ParseUint(hexPort, 16, 16)
	raw, err := hex.DecodeString(hexIP)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return s
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10))
}
