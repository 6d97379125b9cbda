package framework

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestLocalizeImages(t *testing.T) {
	f := &Fleet{Options: Options{Images: DefaultImages("kind")}}
	o := &unstructured.Unstructured{Object: map[string]any{
		"kind": "WebApp",
		"spec": map[string]any{
			"image":         "nginx:1.27",
			"initContainer": map[string]any{"image": "docker.io/library/nginx@sha256:abc"},
		},
	}}
	f.localizeImages(o)
	for _, path := range [][]string{{"spec", "image"}, {"spec", "initContainer", "image"}} {
		if got, _, _ := unstructured.NestedString(o.Object, path...); got != f.Images.Web {
			t.Errorf("%v = %q, want %q", path, got, f.Images.Web)
		}
	}
	other := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"image": "registry.example.com/nginx-proxy:1"}}}
	f.localizeImages(other)
	if got, _, _ := unstructured.NestedString(other.Object, "spec", "image"); got != "registry.example.com/nginx-proxy:1" {
		t.Errorf("unrelated image rewritten to %q", got)
	}
}

func TestReadObjectsSkipsKustomizations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.yaml")
	data := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := ReadObjects(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].GetKind() != "ConfigMap" || objs[0].GetName() != "a" {
		t.Fatalf("objects = %v", objs)
	}
}

// TestSamplesParse: every sample in deploy/samples is a fleethub object
// without a namespace, so `make demo` and users can apply it anywhere.
func TestSamplesParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(SamplesDir(), "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no samples in deploy/samples")
	}
	for _, f := range files {
		objs, err := ReadObjects(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GroupVersionKind().Group != "app.54b3r.io" || o.GetNamespace() != "" {
				t.Errorf("%s: %s %s/%s: want a namespace-less app.54b3r.io object", filepath.Base(f), o.GroupVersionKind(), o.GetNamespace(), o.GetName())
			}
		}
	}
}

// TestProcessIdentity: a Process is recognised by pid and binary, so Stop
// never signals a process that merely reuses the pid.
func TestProcessIdentity(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	sleep, _ = filepath.EvalSymlinks(sleep)
	cmd := exec.Command(sleep, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })

	impostor := &Process{PID: cmd.Process.Pid, Binary: "/nonexistent/manager"}
	if impostor.Running() {
		t.Fatal("a process running another binary counts as our manager")
	}
	if err := impostor.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if cmd.ProcessState != nil {
		t.Fatal("Stop signalled a process that is not ours")
	}

	p := &Process{PID: cmd.Process.Pid, Binary: sleep}
	if !p.Running() {
		t.Fatal("our own process does not count as running")
	}
	done := make(chan struct{})
	go func() { _, _ = cmd.Process.Wait(); close(done) }()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not end the process")
	}
}

func TestStartManagerReportsEarlyExit(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	script := filepath.Join(t.TempDir(), "manager")
	if err := os.WriteFile(script, []byte("#!"+sh+"\necho cannot start: bad flag >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = StartManager(context.Background(), ManagerOptions{Binary: script, LogPath: filepath.Join(t.TempDir(), "m.log")})
	if err == nil || !strings.Contains(err.Error(), "cannot start: bad flag") {
		t.Fatalf("StartManager = %v, want the manager's own error from its log", err)
	}
}

// TestStartManagerRetriesTakenPort: a port found free may be taken before the
// manager binds it; StartManager then tries again with other ports.
func TestStartManagerRetriesTakenPort(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "manager")
	build := exec.Command("go", "build", "-o", bin, "./testdata/fakemanager")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the fake manager: %v\n%s", err, out)
	}
	p, err := StartManager(context.Background(), ManagerOptions{Binary: bin, LogPath: filepath.Join(dir, "m.log")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Stop() }()
	if !p.Running() {
		t.Fatal("the manager is not running after a successful start")
	}
	if log := p.LogTail(20); !strings.Contains(log, "address already in use") {
		t.Fatalf("the first, failed attempt is not in the log:\n%s", log)
	}
}
