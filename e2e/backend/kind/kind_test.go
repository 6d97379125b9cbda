package kind

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

func TestClusterConfig(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		raw := clusterConfig(v1)
		// kind's own type, strictly: a misspelt field fails here, not in kind.
		var cfg v1alpha4.Cluster
		if err := yaml.UnmarshalStrict([]byte(raw), &cfg); err != nil {
			t.Fatalf("cgroup v1 %v: %v\n%s", v1, err, raw)
		}
		if cfg.Kind != "Cluster" || cfg.Networking.APIServerAddress != "127.0.0.1" || len(cfg.Nodes) != 1 {
			t.Errorf("cgroup v1 %v: config = %+v", v1, cfg)
		}
		patched := len(cfg.KubeadmConfigPatches) == 1 && strings.Contains(cfg.KubeadmConfigPatches[0], "failCgroupV1: false")
		if patched != v1 {
			t.Errorf("cgroup v1 %v: failCgroupV1 patch present = %v", v1, patched)
		}
	}
}

// TestCompatWrapper runs the docker wrapper against a stand-in docker that
// prints its arguments.
func TestCompatWrapper(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "real-docker")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "docker")
	if err := os.WriteFile(wrapper, []byte(compatWrapper(fake)), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--name", "n 1", "--privileged", "img"},
			"[run][--name][n 1][--cap-add][ALL][--cap-drop][SYS_RESOURCE][--security-opt][seccomp=unconfined][--security-opt][apparmor=unconfined][--security-opt][systempaths=unconfined][--device-cgroup-rule][a *:* rwm][img]"},
		{[]string{"exec", "--privileged", "node", "cat", "/kind/version"}, "[exec][node][cat][/kind/version]"},
		{[]string{"ps", "-a", "--filter", "label=x y"}, "[ps][-a][--filter][label=x y]"},
	} {
		out, err := exec.Command(wrapper, tc.args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v: %s", tc.args, err, out)
		}
		if string(out) != tc.want {
			t.Errorf("%v:\n got %s\nwant %s", tc.args, out, tc.want)
		}
	}
}

// TestCheckDocker: without a docker command, or with one whose engine does
// not answer, the backend refuses with ErrNoDocker and says what is missing.
func TestCheckDocker(t *testing.T) {
	t.Run("no docker on PATH", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		err := CheckDocker(context.Background())
		if !errors.Is(err, ErrNoDocker) || !strings.Contains(err.Error(), "no docker command on PATH") {
			t.Fatalf("CheckDocker = %v, want ErrNoDocker naming the missing command", err)
		}
	})
	t.Run("engine down", func(t *testing.T) {
		dir := t.TempDir()
		script := "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2\nexit 1\n"
		if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", dir)
		err := CheckDocker(context.Background())
		if !errors.Is(err, ErrNoDocker) || !strings.Contains(err.Error(), "Cannot connect to the Docker daemon") {
			t.Fatalf("CheckDocker = %v, want ErrNoDocker with the engine's answer", err)
		}
	})
	t.Run("engine up", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "docker"), []byte("#!/bin/sh\necho 28.2.2\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", dir)
		if err := CheckDocker(context.Background()); err != nil {
			t.Fatalf("CheckDocker = %v with an answering engine", err)
		}
	})
}
