package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/pkg/registration"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestCommandLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t"}
	kc.Contexts["hub"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	fleettest.Must(t, clientcmd.WriteToFile(*kc, path))

	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, 2, "Usage:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"register", "--member-context", "x"}, 2, "want exactly one member name, got 0"},
		{[]string{"register", "a", "b", "--member-context", "x"}, 2, "want exactly one member name, got 2"},
		{[]string{"register", "m1"}, 2, "--member-context is required"},
		{[]string{"register", "m1", "--member-context"}, 2, "flag needs an argument"},
		{[]string{"register", "m1", "--member-context", "x", "--token-duration", "soon"}, 2, "invalid value"},
		{[]string{"unregister", "m1"}, 2, "--member-context is required (or --hub-only"},
		{[]string{"unregister", "m1", "--hub-only", "--member-context", "x"}, 2, "exclude each other"},
		{[]string{"list", "-o", "yaml"}, 2, `unknown output format "yaml"`},
		{[]string{"list", "extra"}, 2, "list takes no arguments"},
		{[]string{"register", "m1", "--member-context", "nope", "--kubeconfig", path}, 1, `member: context "nope" not found in kubeconfig ` + path + " (contexts: hub)"},
		{[]string{"register", "m1", "--member-context", "hub", "--hub-context", "gone", "--kubeconfig", path}, 1, `hub: context "gone" not found`},
		{[]string{"list", "--kubeconfig", filepath.Join(t.TempDir(), "missing")}, 1, "reading kubeconfig"},
		{[]string{"list", "--kubeconfig", path, "--hub-context", "hub"}, 1, "cannot reach the hub cluster (context hub, https://127.0.0.1:1)"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit %d and %q", tc.args, code, stderr, tc.code, tc.stderr)
		}
	}
	if code, stdout, _ := runCLI(t, "help"); code != 0 || !strings.Contains(stdout, "kubectl fleethub register <name>") {
		t.Errorf("help: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := runCLI(t, "register", "-h"); code != 0 || !strings.Contains(stderr, "-token-duration") {
		t.Errorf("register -h: exit %d\n%s", code, stderr)
	}
}

// TestRegisterListUnregister drives the binary's entry point against one
// real apiserver that is both hub and member (a hub may manage itself).
func TestRegisterListUnregister(t *testing.T) {
	assets, err := fleettest.BinaryAssets()
	fleettest.Must(t, err)
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	fleettest.Must(t, err)
	defer func() { _ = env.Stop() }()
	c, err := client.New(cfg, client.Options{})
	fleettest.Must(t, err)
	fleettest.Must(t, c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fleethub-system"}}))

	path := filepath.Join(t.TempDir(), "config")
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "admin"}
	kc.CurrentContext = "local"
	fleettest.Must(t, clientcmd.WriteToFile(*kc, path))
	t.Setenv("KUBECONFIG", path) // as kubectl users have it; --hub-context defaults to current

	must := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d\n%s%s", args, code, stdout, stderr)
		}
		t.Logf("$ kubectl fleethub %s\n%s", strings.Join(args, " "), stdout)
		return stdout
	}

	out := must("register", "self", "--member-context", "local", "--install-crds", "--token-duration", "2h",
		"--server", strings.Replace(cfg.Host, "127.0.0.1", "localhost", 1))
	for _, want := range []string{"clusterrole/fleethub-member created", "customresourcedefinition/webapps.app.54b3r.io created, established", "secret/self created"} {
		if !strings.Contains(out, want) {
			t.Errorf("register output lacks %q", want)
		}
	}
	s := &corev1.Secret{}
	fleettest.Must(t, c.Get(t.Context(), client.ObjectKey{Namespace: "fleethub-system", Name: "self"}, s))
	hubView, err := clientcmd.Load(s.Data["kubeconfig"])
	fleettest.Must(t, err)
	if got := hubView.Clusters[hubView.Contexts[hubView.CurrentContext].Cluster].Server; !strings.HasPrefix(got, "https://localhost:") {
		t.Errorf("--server not used: %s", got)
	}

	out = must("register", "self", "--member-context", "local")
	if !strings.Contains(out, "secret/self updated") {
		t.Errorf("second register:\n%s", out)
	}

	out = must("list")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "self ") {
		t.Errorf("list:\n%s", out)
	}
	var members []registration.Member
	fleettest.Must(t, json.Unmarshal([]byte(must("list", "-o", "json")), &members))
	if len(members) != 1 || members[0].Name != "self" || members[0].TokenExpiration == "" {
		t.Errorf("list -o json: %+v", members)
	}

	out = must("unregister", "self", "--member-context", "local")
	if !strings.Contains(out, "secret/self deleted") || !strings.Contains(out, "serviceaccount/fleethub-hub deleted") {
		t.Errorf("unregister:\n%s", out)
	}
	if out = must("list", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("list after unregister: %s", out)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
