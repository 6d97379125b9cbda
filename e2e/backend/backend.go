// Package backend is the interface between the e2e suite (and `make demo`)
// and whatever runs the clusters: kwok (real control planes as local
// processes, simulated nodes and pods, no Docker) or kind (Docker containers
// running a real kubelet and containerd).
//
// A backend only creates, exposes and destroys clusters. Everything that is
// the same on every backend — CRDs, member RBAC, storage, the hub manager,
// registration — lives in package framework, so the scenarios run the same
// code whatever the backend.
package backend

import (
	"context"
	"fmt"
	"io"
	"time"
)

// View says from where a kubeconfig will be used.
type View int

const (
	// Host is a kubeconfig for processes on this machine: kubectl, the test
	// process, and a hub manager running as a local process.
	Host View = iota
	// InCluster is a kubeconfig for pods inside the backend's clusters, for
	// example a hub manager deployed into the hub cluster reaching a member.
	// On backends whose clusters have no real pods (kwok) it equals Host.
	InCluster
)

func (v View) String() string {
	if v == InCluster {
		return "in-cluster"
	}
	return "host"
}

// Backend creates and destroys named clusters. Names are the backend's own
// (already prefixed by the caller); a Backend keeps no other state in memory,
// so a later process (make demo-down) can act on clusters an earlier one made.
type Backend interface {
	// Name is the backend's name as given to New: "kwok" or "kind".
	Name() string
	// Create creates the named clusters and waits until each apiserver serves.
	// A cluster that already exists and is healthy is reused.
	Create(ctx context.Context, names ...string) error
	// Kubeconfig returns a self-contained admin kubeconfig (no file
	// references) for one cluster, as seen from view.
	Kubeconfig(ctx context.Context, name string, view View) ([]byte, error)
	// LoadImages makes local images available to a cluster's nodes where that
	// means something (kind); backends with simulated pods ignore it.
	LoadImages(ctx context.Context, name string, images ...string) error
	// StopAPIServer stops a cluster's kube-apiserver and returns once it no
	// longer answers; the rest of the cluster keeps running.
	StopAPIServer(ctx context.Context, name string) error
	// StartAPIServer starts it again and returns once it serves.
	StartAPIServer(ctx context.Context, name string) error
	// Delete deletes the named clusters; missing ones are not an error.
	Delete(ctx context.Context, names ...string) error
	// List returns the clusters of this backend whose names start with prefix.
	List(ctx context.Context, prefix string) ([]string, error)
	// DumpLogs writes the tail of each control-plane component's log of one
	// cluster to w, for diagnosing a failure.
	DumpLogs(ctx context.Context, name string, w io.Writer)
}

// Progress reports a long-running step to a person watching.
type Progress func(format string, args ...any)

// Printer returns a Progress writing timestamped lines to w, relative to now.
func Printer(w io.Writer) Progress {
	start := time.Now()
	return func(format string, args ...any) {
		fmt.Fprintf(w, ">> [%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
}

// Discard is a Progress that prints nothing.
func Discard(string, ...any) {}

// NodeCommander is implemented by backends whose nodes are machines (or
// containers) that commands can run on, such as kind. Backends whose nodes
// are simulated do not implement it.
type NodeCommander interface {
	// NodeExec runs a command on every node of a cluster.
	NodeExec(ctx context.Context, name string, args ...string) error
}
