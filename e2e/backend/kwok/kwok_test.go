package kwok

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/yaml"
)

func TestDecodeProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:0050":                         "0.0.0.0:80",
		"00000000000000000000000001000000:1A0B": "[::1]:6667",
		"00000000000000000000000000000000:0016": "[::]:22",
		"garbage":                               "garbage",
	} {
		if got := decodeProcAddr(in); got != want {
			t.Errorf("decodeProcAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestConfiguration checks what the kwokctl configuration promises: local
// binaries only, loopback only, and controllers that survive an apiserver
// outage.
func TestConfiguration(t *testing.T) {
	dir := t.TempDir()
	k8s, kwokDir := filepath.Join(dir, "k8s"), filepath.Join(dir, "kwok")
	for _, d := range []string{k8s, kwokDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range k8sBinaries {
		touchExecutable(t, filepath.Join(k8s, b))
	}
	for _, b := range []string{"kwok", "kwokctl"} {
		touchExecutable(t, filepath.Join(kwokDir, b))
	}
	b, err := New(Options{WorkDir: filepath.Join(dir, "work"), K8sBinDir: k8s, KwokBinDir: kwokDir})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "work", "kwok.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Options           map[string]any `json:"options"`
		ComponentsPatches []struct {
			Name      string `json:"name"`
			ExtraArgs []struct{ Key, Value string }
		} `json:"componentsPatches"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Options["runtime"] != "binary" || cfg.Options["bindAddress"] != "127.0.0.1" {
		t.Errorf("runtime/bindAddress = %v/%v, want binary/127.0.0.1", cfg.Options["runtime"], cfg.Options["bindAddress"])
	}
	for key, bin := range map[string]string{
		"etcdBinary": filepath.Join(k8s, "etcd"), "kubeApiserverBinary": filepath.Join(k8s, "kube-apiserver"),
		"kubeControllerManagerBinary": filepath.Join(k8s, "kube-controller-manager"),
		"kubeSchedulerBinary":         filepath.Join(k8s, "kube-scheduler"), "kubectlBinary": filepath.Join(k8s, "kubectl"),
		"kwokControllerBinary": filepath.Join(kwokDir, "kwok"),
	} {
		if cfg.Options[key] != bin {
			t.Errorf("%s = %v, want %s", key, cfg.Options[key], bin)
		}
	}
	noElection := map[string]bool{}
	for _, p := range cfg.ComponentsPatches {
		for _, a := range p.ExtraArgs {
			if a.Key == "leader-elect" && a.Value == "false" {
				noElection[p.Name] = true
			}
		}
	}
	if !noElection["kube-controller-manager"] || !noElection["kube-scheduler"] {
		t.Errorf("leader election not disabled for both controllers: %v", noElection)
	}
	if b.Name() != "kwok" {
		t.Errorf("Name() = %q", b.Name())
	}
}

func TestNewReportsMissingBinaries(t *testing.T) {
	_, err := New(Options{WorkDir: t.TempDir(), K8sBinDir: "/nonexistent", KwokBinDir: "/nonexistent"})
	if err == nil || !strings.Contains(err.Error(), "hack/kwok-bins.sh") {
		t.Fatalf("New with no binaries: %v", err)
	}
}

func touchExecutable(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}
