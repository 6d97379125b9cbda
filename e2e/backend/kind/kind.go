// Package kind is the e2e backend on Docker: every cluster is a kind cluster
// (sigs.k8s.io/kind used as a library), with a real kubelet and containerd in
// a node container, so pods really run.
//
// kind needs a node image. It uses a kindest/node image when one is present
// locally; where no registry can be reached, hack/kind-node-image.sh builds
// one offline from Debian packages and Kubernetes binaries built from source
// (see DefaultNodeImage).
package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindlog "sigs.k8s.io/kind/pkg/log"

	"github.com/fleethub/fleethub/e2e/backend"
)

// DefaultNodeImage is the image hack/kind-node-image.sh builds.
const DefaultNodeImage = "fleethub.local/kind-node:v1.36.0"

// Options configure the kind backend.
type Options struct {
	// NodeImage is the node image; empty means DefaultNodeImage.
	NodeImage string
	// KubeconfigDir is where kind writes each cluster's kubeconfig (kind
	// would otherwise edit ~/.kube/config).
	KubeconfigDir string
	// Progress reports long steps; nil prints nothing.
	Progress backend.Progress
}

// Backend runs kind clusters.
type Backend struct {
	opts     Options
	provider *cluster.Provider

	compatOnce sync.Once
	compatErr  error
}

var (
	_ backend.Backend       = &Backend{}
	_ backend.NodeCommander = &Backend{}
)

// New returns a kind backend using the local Docker engine.
func New(opts Options) (*Backend, error) {
	if opts.NodeImage == "" {
		opts.NodeImage = DefaultNodeImage
	}
	if opts.Progress == nil {
		opts.Progress = backend.Discard
	}
	dir, err := filepath.Abs(opts.KubeconfigDir)
	if err != nil {
		return nil, err
	}
	opts.KubeconfigDir = dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(logger{opts.Progress}))
	return &Backend{opts: opts, provider: p}, nil
}

// Name implements backend.Backend.
func (b *Backend) Name() string { return "kind" }

// clusterConfig is the kind configuration of every cluster: one node, the
// apiserver published on loopback only. Since Kubernetes 1.35 the kubelet
// refuses cgroup v1 hosts unless failCgroupV1 is false.
func clusterConfig(cgroupV1 bool) string {
	c := `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  apiServerAddress: 127.0.0.1
nodes:
- role: control-plane
`
	if cgroupV1 {
		c += `kubeadmConfigPatches:
- |
  kind: KubeletConfiguration
  failCgroupV1: false
`
	}
	return c
}

// hostCgroupV1 reports whether this machine mounts cgroup v1 (kind nodes
// share the host's cgroup version).
func hostCgroupV1() bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/sys/fs/cgroup", &st); err != nil {
		return false
	}
	const cgroup2Magic = 0x63677270
	return st.Type != cgroup2Magic
}

func (b *Backend) kubeconfigPath(name string) string {
	return filepath.Join(b.opts.KubeconfigDir, name+".kubeconfig")
}

// Create implements backend.Backend. Clusters are made one at a time: each
// node boots systemd, containerd and a control plane, which is all the CPU a
// small machine has.
func (b *Backend) Create(ctx context.Context, names ...string) error {
	if err := b.checkImage(ctx); err != nil {
		return err
	}
	if err := b.dockerCompat(ctx); err != nil {
		return err
	}
	existing, err := b.provider.List()
	if err != nil {
		return fmt.Errorf("listing kind clusters: %w", err)
	}
	for _, name := range names {
		start := time.Now()
		if contains(existing, name) {
			b.opts.Progress("kind: cluster %s exists; reusing it", name)
		} else {
			b.opts.Progress("kind: creating cluster %s from %s", name, b.opts.NodeImage)
			err := b.provider.Create(name,
				cluster.CreateWithNodeImage(b.opts.NodeImage),
				cluster.CreateWithRawConfig([]byte(clusterConfig(hostCgroupV1()))),
				cluster.CreateWithWaitForReady(4*time.Minute),
				cluster.CreateWithKubeconfigPath(b.kubeconfigPath(name)),
				cluster.CreateWithDisplayUsage(false),
				cluster.CreateWithDisplaySalutation(false),
				// Kept on failure so its logs can be read; deleted below.
				cluster.CreateWithRetain(true),
			)
			if err != nil {
				var logs bytes.Buffer
				b.DumpLogs(ctx, name, &logs)
				_ = b.provider.Delete(name, b.kubeconfigPath(name))
				return fmt.Errorf("kind: creating %s: %w\n%s", name, err, logs.String())
			}
		}
		kc, err := b.Kubeconfig(ctx, name, backend.Host)
		if err != nil {
			return err
		}
		cfg, err := backend.RESTConfig(kc)
		if err != nil {
			return err
		}
		if err := backend.WaitServing(ctx, cfg, 2*time.Minute); err != nil {
			return fmt.Errorf("kind: cluster %s: %w", name, err)
		}
		b.opts.Progress("kind: cluster %s serves after %s", name, time.Since(start).Round(100*time.Millisecond))
	}
	return nil
}

// checkImage fails early, with the way out, when the node image is missing:
// kind would otherwise try to pull it.
func (b *Backend) checkImage(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", b.opts.NodeImage).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kind: node image %s is not available locally (%s); build it with hack/kind-node-image.sh or set KIND_NODE_IMAGE to a kindest/node image",
			b.opts.NodeImage, strings.TrimSpace(string(out)))
	}
	return nil
}

// Kubeconfig implements backend.Backend: the host view uses the published
// loopback port, the in-cluster view the node's address on the kind network.
func (b *Backend) Kubeconfig(_ context.Context, name string, view backend.View) ([]byte, error) {
	raw, err := b.provider.KubeConfig(name, view == backend.InCluster)
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.Load([]byte(raw))
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fleethub-kind-kubeconfig-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return nil, err
	}
	return backend.FlattenKubeconfig(path, name)
}

// LoadImages implements backend.Backend: `docker save` once, import into
// every node's containerd.
func (b *Backend) LoadImages(ctx context.Context, name string, images ...string) error {
	if len(images) == 0 {
		return nil
	}
	if err := b.dockerCompat(ctx); err != nil {
		return err
	}
	ns, err := b.provider.ListInternalNodes(name)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp("", "fleethub-kind-images-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	b.opts.Progress("kind: loading %s into %s", strings.Join(images, ", "), name)
	save := exec.CommandContext(ctx, "docker", append([]string{"save"}, images...)...)
	var stderr bytes.Buffer
	save.Stdout, save.Stderr = tmp, &stderr
	if err := save.Run(); err != nil {
		return fmt.Errorf("docker save %v: %w: %s", images, err, stderr.String())
	}
	for _, n := range ns {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := nodeutils.LoadImageArchive(n, tmp); err != nil {
			return fmt.Errorf("loading images into %s: %w", n, err)
		}
	}
	return nil
}

const (
	apiserverManifest = "/etc/kubernetes/manifests/kube-apiserver.yaml"
	apiserverParked   = "/etc/kubernetes/kube-apiserver.yaml.stopped"
)

// StopAPIServer implements backend.Backend: the kubelet stops a static pod
// whose manifest leaves its manifest directory.
func (b *Backend) StopAPIServer(ctx context.Context, name string) error {
	n, err := b.controlPlane(name)
	if err != nil {
		return err
	}
	b.opts.Progress("kind: stopping kube-apiserver of %s", name)
	if err := n.CommandContext(ctx, "mv", apiserverManifest, apiserverParked).Run(); err != nil {
		return fmt.Errorf("parking the apiserver manifest on %s: %w", n, err)
	}
	kc, err := b.Kubeconfig(ctx, name, backend.Host)
	if err != nil {
		return err
	}
	cfg, err := backend.RESTConfig(kc)
	if err != nil {
		return err
	}
	return backend.WaitDown(ctx, cfg, 2*time.Minute)
}

// StartAPIServer implements backend.Backend.
func (b *Backend) StartAPIServer(ctx context.Context, name string) error {
	n, err := b.controlPlane(name)
	if err != nil {
		return err
	}
	b.opts.Progress("kind: starting kube-apiserver of %s", name)
	if err := n.CommandContext(ctx, "mv", apiserverParked, apiserverManifest).Run(); err != nil {
		return fmt.Errorf("restoring the apiserver manifest on %s: %w", n, err)
	}
	kc, err := b.Kubeconfig(ctx, name, backend.Host)
	if err != nil {
		return err
	}
	cfg, err := backend.RESTConfig(kc)
	if err != nil {
		return err
	}
	return backend.WaitServing(ctx, cfg, 3*time.Minute)
}

func (b *Backend) controlPlane(name string) (nodes.Node, error) {
	if err := b.dockerCompat(context.Background()); err != nil {
		return nil, err
	}
	ns, err := b.provider.ListInternalNodes(name)
	if err != nil {
		return nil, err
	}
	cps, err := nodeutils.ControlPlaneNodes(ns)
	if err != nil {
		return nil, err
	}
	if len(cps) == 0 {
		return nil, fmt.Errorf("kind cluster %s has no control-plane node", name)
	}
	return cps[0], nil
}

// Delete implements backend.Backend.
func (b *Backend) Delete(_ context.Context, names ...string) error {
	existing, err := b.provider.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if !contains(existing, name) {
			continue
		}
		b.opts.Progress("kind: deleting cluster %s", name)
		if err := b.provider.Delete(name, b.kubeconfigPath(name)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// List implements backend.Backend.
func (b *Backend) List(_ context.Context, prefix string) ([]string, error) {
	all, err := b.provider.List()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// DumpLogs implements backend.Backend: containers on the node, the kubelet's
// journal and the control-plane containers' logs.
func (b *Backend) DumpLogs(ctx context.Context, name string, w io.Writer) {
	if err := b.dockerCompat(ctx); err != nil {
		fmt.Fprintf(w, "kind: %v\n", err)
		return
	}
	ns, err := b.provider.ListNodes(name)
	if err != nil {
		fmt.Fprintf(w, "kind: listing nodes of %s: %v\n", name, err)
		return
	}
	for _, n := range ns {
		run := func(title string, args ...string) {
			fmt.Fprintf(w, "----- %s: %s -----\n", n, title)
			var out bytes.Buffer
			err := n.CommandContext(ctx, args[0], args[1:]...).SetStdout(&out).SetStderr(&out).Run()
			fmt.Fprintln(w, tail(out.String(), 40))
			if err != nil {
				fmt.Fprintf(w, "(%v)\n", err)
			}
		}
		run("containers", "crictl", "ps", "-a")
		run("kubelet journal", "journalctl", "-u", "kubelet", "-n", "40", "--no-pager")
		for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"} {
			run(c+" log", "sh", "-c", "id=$(crictl ps -a -q --name "+c+" | head -n1); [ -n \"$id\" ] && crictl logs --tail 30 $id 2>&1")
		}
		var serial bytes.Buffer
		if err := n.SerialLogs(&serial); err == nil {
			fmt.Fprintf(w, "----- %s: node container output -----\n%s\n", n, tail(serial.String(), 40))
		}
	}
}

// logger adapts kind's logger to progress lines: warnings, errors and
// kind's user-facing (V(0)) status messages.
type logger struct{ p backend.Progress }

func (l logger) Warn(m string)                        { l.p("kind: warning: %s", m) }
func (l logger) Warnf(f string, a ...any)             { l.p("kind: warning: "+f, a...) }
func (l logger) Error(m string)                       { l.p("kind: error: %s", m) }
func (l logger) Errorf(f string, a ...any)            { l.p("kind: error: "+f, a...) }
func (l logger) V(v kindlog.Level) kindlog.InfoLogger { return info{p: l.p, on: v <= 0} }

type info struct {
	p  backend.Progress
	on bool
}

func (i info) Info(m string) {
	if i.on && strings.TrimSpace(m) != "" {
		i.p("kind: %s", strings.TrimSpace(m))
	}
}
func (i info) Infof(f string, a ...any) { i.Info(fmt.Sprintf(f, a...)) }
func (i info) Enabled() bool            { return i.on }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// dockerCompat makes kind usable on hosts that cannot start privileged
// containers. kind runs every node with --privileged (and execs into nodes
// with it); a host whose capability bounding set lacks CAP_SYS_RESOURCE
// refuses that ("unable to apply caps: operation not permitted"). There the
// backend puts a docker wrapper first on this process's PATH, which kind
// finds, that asks for every capability but CAP_SYS_RESOURCE, no seccomp or
// AppArmor confinement, unmasked /proc and /sys paths and all devices
// instead. The node image copes with the missing capability
// (hack/kindnode: containerd keeps OOM scores at or above its own). On
// hosts that can run privileged containers nothing changes.
func (b *Backend) dockerCompat(ctx context.Context) error {
	b.compatOnce.Do(func() {
		out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--privileged", "--entrypoint", "/bin/true", b.opts.NodeImage).CombinedOutput()
		if err == nil {
			return
		}
		if !strings.Contains(string(out), "unable to apply caps") {
			b.compatErr = fmt.Errorf("kind: docker cannot run a privileged container: %w: %s", err, strings.TrimSpace(string(out)))
			return
		}
		real, err := exec.LookPath("docker")
		if err != nil {
			b.compatErr = err
			return
		}
		dir := filepath.Join(b.opts.KubeconfigDir, "docker-compat")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.compatErr = err
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(compatWrapper(real)), 0o755); err != nil {
			b.compatErr = err
			return
		}
		b.opts.Progress("kind: this host cannot start privileged containers (no CAP_SYS_RESOURCE); kind nodes get every other capability instead (%s)", dir)
		b.compatErr = os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	})
	return b.compatErr
}

// compatWrapper is the docker wrapper dockerCompat installs.
func compatWrapper(realDocker string) string {
	return `#!/bin/sh
# Written by fleethub's e2e kind backend: this host cannot start privileged
# containers, so "run --privileged" becomes every capability but
# CAP_SYS_RESOURCE, and "exec --privileged" a plain exec.
sub=$1
for a in "$@"; do
  shift
  if [ "$a" = --privileged ]; then
    if [ "$sub" = run ]; then
      set -- "$@" --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined \
        --security-opt apparmor=unconfined --security-opt systempaths=unconfined --device-cgroup-rule "a *:* rwm"
    fi
    continue
  fi
  set -- "$@" "$a"
done
exec ` + realDocker + ` "$@"
`
}

// NodeExec implements backend.NodeCommander.
func (b *Backend) NodeExec(ctx context.Context, name string, args ...string) error {
	if err := b.dockerCompat(ctx); err != nil {
		return err
	}
	ns, err := b.provider.ListInternalNodes(name)
	if err != nil {
		return err
	}
	for _, n := range ns {
		var out bytes.Buffer
		if err := n.CommandContext(ctx, args[0], args[1:]...).SetStdout(&out).SetStderr(&out).Run(); err != nil {
			return fmt.Errorf("%s: %s: %w: %s", n, strings.Join(args, " "), err, out.String())
		}
	}
	return nil
}
