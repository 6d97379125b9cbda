package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fleethub/fleethub/e2e/backend"
)

// Process is a hub manager started by this package. It is found again by
// pid in later runs (make demo-down), so the pid and the binary path are what
// identify it; Stop signals nothing else.
type Process struct {
	PID         int    `json:"pid"`
	Binary      string `json:"binary"`
	LogPath     string `json:"logPath"`
	MetricsAddr string `json:"metricsAddr"`
	ProbeAddr   string `json:"probeAddr"`

	exited chan struct{} // closed when a child we wait for exits; nil when detached
}

// ManagerOptions start a hub manager process.
type ManagerOptions struct {
	Binary        string
	HubKubeconfig string
	HubNamespace  string
	LogPath       string
	// Args are extra flags, after the ones this package sets.
	Args []string
	// Env is extra environment (FLEETHUB_* settings, DNS credentials).
	Env []string
	// Detach makes the manager outlive this process (make demo): it gets its
	// own session and is not waited for.
	Detach bool
}

// StartManager runs the hub manager with leader election off, listeners on
// free loopback ports, and its output in LogPath; it returns once /readyz
// answers. A port found free can be taken before the manager binds it (by
// any connection's ephemeral port), so that failure is retried with others.
func StartManager(ctx context.Context, o ManagerOptions) (*Process, error) {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var p *Process
		if p, err = startManager(ctx, o); err == nil {
			return p, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			return nil, err
		}
	}
	return nil, err
}

func startManager(ctx context.Context, o ManagerOptions) (*Process, error) {
	metrics, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	probe, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	args := []string{
		"--kubeconfig=" + o.HubKubeconfig,
		"--hub-namespace=" + o.HubNamespace,
		"--leader-elect=false",
		"--metrics-bind-address=" + metrics,
		"--health-probe-bind-address=" + probe,
	}
	args = append(args, o.Args...)
	if err := os.MkdirAll(filepath.Dir(o.LogPath), 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(o.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "# %s started %s with %s\n", time.Now().Format(time.RFC3339), o.Binary, strings.Join(args, " "))

	cmd := exec.Command(o.Binary, args...)
	// The manager reads FLEETHUB_* from the environment; do not let the
	// caller's own settings leak into a fleet that sets everything itself.
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLEETHUB_") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, o.Env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if o.Detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", o.Binary, err)
	}
	p := &Process{PID: cmd.Process.Pid, Binary: o.Binary, LogPath: o.LogPath, MetricsAddr: metrics, ProbeAddr: probe}
	if o.Detach {
		_ = cmd.Process.Release()
	} else {
		p.exited = make(chan struct{})
		go func() { _ = cmd.Wait(); close(p.exited) }()
	}
	err = backend.Poll(ctx, 60*time.Second, 200*time.Millisecond, func() error {
		if !p.Running() {
			return backend.Permanent(fmt.Errorf("the manager exited; its log:\n%s", p.LogTail(40)))
		}
		resp, err := http.Get("http://" + probe + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("hub manager did not become ready: %w", err)
	}
	return p, nil
}

// Running reports whether the process is alive and is still our manager
// (a recycled pid belongs to someone else and reads as not running).
func (p *Process) Running() bool {
	if p.exited != nil {
		select {
		case <-p.exited:
			return false
		default:
			return true
		}
	}
	// /proc/<pid>/exe names the program from the moment exec replaces the
	// process image (the command line is filled in later, so a check right
	// after the start could misread it). A binary rebuilt while the process
	// runs shows as "<path> (deleted)".
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.PID))
	if err != nil {
		return false
	}
	want := p.Binary
	if resolved, err := filepath.EvalSymlinks(want); err == nil {
		want = resolved
	}
	if strings.TrimSuffix(exe, " (deleted)") != want {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err == nil {
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	return true
}

// Stop terminates the manager (SIGTERM, then SIGKILL after 30 s) if it is
// still the process this package started.
func (p *Process) Stop() error {
	if p == nil || !p.Running() {
		return nil
	}
	if err := syscall.Kill(p.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.Running() {
		if time.Now().After(deadline) {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
			time.Sleep(500 * time.Millisecond)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// LogTail returns the last n lines of the manager's log.
func (p *Process) LogTail(n int) string {
	raw, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.LogPath, err)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RSS is the manager's resident memory in bytes (0 if unknown).
func (p *Process) RSS() int64 { return RSS(p.PID) }

// RSS reads a process's resident set size from /proc.
func RSS(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
