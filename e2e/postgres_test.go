//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/e2e/backend"
	"github.com/fleethub/fleethub/e2e/framework"
)

// TestSimpleDBKeepsDataAndPassword is the real-PostgreSQL proof, on backends
// that run containers: connect with the credentials from the SimpleDB's
// Secret, write a row, delete the pod, read the row back from the new pod;
// rotate the password in the Secret, and connect again with the new one
// (while the old one no longer works).
func TestSimpleDBKeepsDataAndPassword(t *testing.T) {
	requireKind(t, "SimpleDB")
	if _, real := fleet.Backend.(backend.NodeCommander); !real {
		t.Skipf("the %s backend runs no containers; this scenario needs a real PostgreSQL", fleet.Backend.Name())
	}
	ctx := context.Background()
	ns := newNamespace(t, alpha)
	diagnoseOnFailure(t, framework.Object{Cluster: alpha, Resource: "simpledb", Namespace: ns, Name: "ledger"})
	c := member(alpha)
	if err := c.Create(ctx, simpleDB(ns, "ledger")); err != nil {
		t.Fatal(err)
	}
	eventually(t, timeout, "SimpleDB ledger Ready", simpleDBReady(alpha, ns, "ledger"))

	creds := secretOf(t, ns, "ledger")
	// The first write goes the way an application connects: the Service the
	// status names, by its cluster DNS name (CoreDNS, kube-proxy and the
	// Service's selector and ports all have to be right).
	svc := creds.service + "." + ns + ".svc.cluster.local"
	psqlAt(t, ns, svc, creds, "CREATE TABLE entries (v text); INSERT INTO entries VALUES ('kept across restarts');")

	first := serverPod(t, ns)
	if err := c.Delete(ctx, first); err != nil {
		t.Fatal(err)
	}
	eventually(t, timeout, "a new PostgreSQL pod Ready", func(ctx context.Context) error {
		if p := serverPod(t, ns); p.UID == first.UID {
			return fmt.Errorf("still the old pod %s", p.Name)
		}
		return simpleDBReady(alpha, ns, "ledger")(ctx)
	})
	if got := psql(t, ns, creds, "SELECT v FROM entries;"); !strings.Contains(got, "kept across restarts") {
		t.Fatalf("row lost after the pod was replaced: %q", got)
	}

	// Rotate: a new password in the Secret rolls the pod, which applies it.
	before := serverPod(t, ns)
	secret := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: creds.name}, secret); err != nil {
		t.Fatal(err)
	}
	rotated := "rotated-" + strings.Repeat("x", 24)
	secret.Data["password"] = []byte(rotated)
	if err := c.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	eventually(t, timeout, "the pod rolled after the password rotation", func(ctx context.Context) error {
		if p := serverPod(t, ns); p.UID == before.UID {
			return fmt.Errorf("still the pod from before the rotation")
		}
		return simpleDBReady(alpha, ns, "ledger")(ctx)
	})
	old := creds
	creds.password = rotated
	if got := psql(t, ns, creds, "SELECT v FROM entries;"); !strings.Contains(got, "kept across restarts") {
		t.Fatalf("after the rotation: %q", got)
	}
	if out, err := psqlErr(ctx, ns, old, "SELECT 1;"); err == nil {
		t.Fatalf("the old password still works after the rotation: %s", out)
	}
}

// credentials are what a SimpleDB's status and Secret tell an application.
type credentials struct{ service, name, user, password, database string }

func secretOf(t *testing.T, ns, db string) credentials {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(framework.GVK("SimpleDB"))
	if err := member(alpha).Get(context.Background(), client.ObjectKey{Namespace: ns, Name: db}, u); err != nil {
		t.Fatal(err)
	}
	name, _, _ := unstructured.NestedString(u.Object, "status", "secretName")
	service, _, _ := unstructured.NestedString(u.Object, "status", "serviceName")
	if name == "" || service == "" {
		t.Fatalf("SimpleDB %s/%s is Ready but its status names no Secret (%q) or Service (%q)", ns, db, name, service)
	}
	s := &corev1.Secret{}
	if err := member(alpha).Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		t.Fatal(err)
	}
	return credentials{service: service, name: name, user: string(s.Data["username"]), password: string(s.Data["password"]), database: string(s.Data["database"])}
}

// serverPod is the running (not terminating) PostgreSQL pod of the namespace.
func serverPod(t *testing.T, ns string) *corev1.Pod {
	t.Helper()
	p, err := findServerPod(context.Background(), ns)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// findServerPod returns the running PostgreSQL pod, or an empty pod if none runs.
func findServerPod(ctx context.Context, ns string) (*corev1.Pod, error) {
	pods := &corev1.PodList{}
	if err := member(alpha).List(ctx, pods, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			return p, nil
		}
	}
	return &corev1.Pod{}, nil
}

// psql runs SQL over TCP on loopback inside the server pod with the given
// credentials: the password check, without the network in between.
func psql(t *testing.T, ns string, c credentials, sql string) string {
	t.Helper()
	return psqlAt(t, ns, "127.0.0.1", c, sql)
}

// psqlAt runs SQL from inside the server pod against host.
func psqlAt(t *testing.T, ns, host string, c credentials, sql string) string {
	t.Helper()
	var out string
	eventually(t, timeout, "psql as "+c.user+" at "+host, func(ctx context.Context) error {
		var err error
		out, err = psqlHostErr(ctx, ns, host, c, sql)
		return err
	})
	return out
}

func psqlErr(ctx context.Context, ns string, c credentials, sql string) (string, error) {
	return psqlHostErr(ctx, ns, "127.0.0.1", c, sql)
}

func psqlHostErr(ctx context.Context, ns, host string, c credentials, sql string) (string, error) {
	pod, err := findServerPod(ctx, ns)
	if err != nil {
		return "", err
	}
	if pod.Name == "" {
		return "", fmt.Errorf("no running PostgreSQL pod in %s", ns)
	}
	out, err := fleet.Kubectl(ctx, alpha, "exec", "-n", ns, pod.Name, "-c", "postgres", "--",
		"env", "PGPASSWORD="+c.password, "PGCONNECT_TIMEOUT=10", "psql", "-h", host, "-U", c.user, "-d", c.database,
		"-v", "ON_ERROR_STOP=1", "-tA", "-c", sql)
	if err != nil {
		return out, fmt.Errorf("psql: %w: %s", err, out)
	}
	return out, nil
}
