package framework

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// Object names one object in a cluster for diagnostics: Resource is what
// kubectl accepts ("webapp", "simpledb", "deployment").
type Object struct {
	Cluster   string
	Resource  string
	Namespace string
	Name      string
}

// Diagnose writes what a person needs to understand a failure: for each
// object a describe (kubectl describe, or YAML if kubectl fails), the
// workload objects and events of its namespace, the hub's member Secrets and
// events, the hub manager's log and the control-plane logs of the clusters
// involved.
func (f *Fleet) Diagnose(ctx context.Context, w io.Writer, objs ...Object) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	fmt.Fprintf(w, "\n========== diagnostics (%s backend, state in %s) ==========\n", f.Backend.Name(), f.StateDir)
	clusters := map[string]bool{}
	namespaces := map[[2]string]bool{}
	for _, o := range objs {
		clusters[o.Cluster] = true
		namespaces[[2]string{o.Cluster, o.Namespace}] = true
		f.section(ctx, w, o.Cluster, fmt.Sprintf("describe %s %s/%s", o.Resource, o.Namespace, o.Name),
			"describe", o.Resource, "-n", o.Namespace, o.Name)
	}
	for k := range namespaces {
		f.section(ctx, w, k[0], "workloads in "+k[1],
			"get", "deployments,replicasets,pods,services,persistentvolumeclaims,secrets", "-n", k[1], "-o", "wide", "--show-labels")
		f.section(ctx, w, k[0], "events in "+k[1], "get", "events", "-n", k[1], "--sort-by=.lastTimestamp")
	}
	f.section(ctx, w, HubName, "member Secrets on the hub", "get", "secrets", "-n", HubNamespace, "--show-labels", "-o", "wide")
	f.section(ctx, w, HubName, "hub events", "get", "events", "-n", HubNamespace, "--sort-by=.lastTimestamp")
	if f.Manager != nil {
		state := "running"
		if !f.Manager.Running() {
			state = "NOT running"
		}
		fmt.Fprintf(w, "----- hub manager (pid %d, %s): last lines of %s -----\n%s\n", f.Manager.PID, state, f.Manager.LogPath, f.Manager.LogTail(120))
	}
	if len(clusters) == 0 {
		for _, m := range f.Members {
			clusters[m.Name] = true
		}
	}
	for name := range clusters {
		if c := f.Cluster(name); c != nil {
			f.Backend.DumpLogs(ctx, c.BackendName, w)
		}
	}
	fmt.Fprintf(w, "========== end of diagnostics ==========\n\n")
}

// section runs kubectl against one cluster and writes its output under a title.
func (f *Fleet) section(ctx context.Context, w io.Writer, cluster, title string, args ...string) {
	fmt.Fprintf(w, "----- %s: %s -----\n", cluster, title)
	out, err := f.Kubectl(ctx, cluster, args...)
	fmt.Fprint(w, out)
	if err != nil {
		fmt.Fprintf(w, "(kubectl %s: %v)\n", strings.Join(args, " "), err)
	}
}

// Kubectl runs kubectl against one cluster of the fleet and returns its
// combined output.
func (f *Fleet) Kubectl(ctx context.Context, cluster string, args ...string) (string, error) {
	c := f.Cluster(cluster)
	if c == nil {
		return "", fmt.Errorf("no cluster %q", cluster)
	}
	cmd := exec.CommandContext(ctx, f.Bins.Kubectl(), append([]string{"--kubeconfig", c.KubeconfigPath}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
