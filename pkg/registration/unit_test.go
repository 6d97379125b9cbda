package registration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/fleethub/fleethub/pkg/membersecret"
)

func memberSecret(name string, annotations map[string]string) corev1.Secret {
	return corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}
}

func listFixture() []corev1.Secret {
	return []corev1.Secret{
		memberSecret("zeta", nil), // registered, the hub has not written anything yet
		memberSecret("alpha", map[string]string{
			membersecret.AnnotationState:          "Ready",
			membersecret.AnnotationReason:         "Engaged",
			membersecret.AnnotationMessage:        "all kinds engaged",
			membersecret.AnnotationKinds:          "WebApp,SimpleDB",
			membersecret.AnnotationLastTransition: "2026-05-01T10:00:00Z",
			AnnotationTokenExpiration:             "2026-05-31T10:00:00Z",
			membersecret.AnnotationReplica:        "fleethub-7d9f-x2",
		}),
		memberSecret("beta-long-name", map[string]string{
			membersecret.AnnotationState:          "Unreachable",
			membersecret.AnnotationReason:         "ConnectionRefused",
			membersecret.AnnotationMessage:        "dial tcp 10.0.0.1:6443:\n\tconnection refused",
			membersecret.AnnotationLastTransition: "2026-05-02T08:30:00Z",
		}),
		memberSecret("gamma", map[string]string{
			membersecret.AnnotationState: "MissingCRDs",
			membersecret.AnnotationKinds: " WebApp , ",
		}),
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, Members(listFixture()), false); err != nil {
		t.Fatal(err)
	}
	want := `NAME             STATE         REASON              KINDS             LAST TRANSITION
alpha            Ready         Engaged             WebApp,SimpleDB   2026-05-01T10:00:00Z
beta-long-name   Unreachable   ConnectionRefused   -                 2026-05-02T08:30:00Z
gamma            MissingCRDs   -                   WebApp            -
zeta             -             -                   -                 -
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteTableWide(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, Members(listFixture()[:3]), true); err != nil {
		t.Fatal(err)
	}
	want := `NAME             STATE         REASON              KINDS             LAST TRANSITION        REPLICA            TOKEN EXPIRES          MESSAGE
alpha            Ready         Engaged             WebApp,SimpleDB   2026-05-01T10:00:00Z   fleethub-7d9f-x2   2026-05-31T10:00:00Z   all kinds engaged
beta-long-name   Unreachable   ConnectionRefused   -                 2026-05-02T08:30:00Z   -                  -                      dial tcp 10.0.0.1:6443: connection refused
zeta             -             -                   -                 -                      -                  -                      -
`
	if b.String() != want {
		t.Errorf("wide table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteTableEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, nil, false); err != nil {
		t.Fatal(err)
	}
	if b.String() != "NAME   STATE   REASON   KINDS   LAST TRANSITION\n" {
		t.Errorf("empty table: %q", b.String())
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, Members([]corev1.Secret{listFixture()[3], listFixture()[0]})); err != nil {
		t.Fatal(err)
	}
	want := `[
  {
    "name": "gamma",
    "state": "MissingCRDs",
    "kinds": [
      "WebApp"
    ]
  },
  {
    "name": "zeta"
  }
]
`
	if b.String() != want {
		t.Errorf("json:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteJSON(&b, nil); err != nil || b.String() != "[]\n" {
		t.Errorf("empty json: %q, %v", b.String(), err)
	}
}

func TestHubClusterAndKubeconfig(t *testing.T) {
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, []byte("CA FROM FILE"), 0o600); err != nil {
		t.Fatal(err)
	}
	member := &rest.Config{Host: "https://127.0.0.1:6443", TLSClientConfig: rest.TLSClientConfig{CAFile: caFile}}

	c, err := hubCluster(RegisterOptions{Member: member})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server != "https://127.0.0.1:6443" || string(c.CertificateAuthorityData) != "CA FROM FILE" || c.CertificateAuthority != "" {
		t.Errorf("cluster from a CA file: %+v", c)
	}

	// --server override, CA data wins over a file, TLS server name kept.
	member.TLSClientConfig = rest.TLSClientConfig{CAData: []byte("CA DATA"), CAFile: "/nonexistent", ServerName: "kubernetes"}
	c, err = hubCluster(RegisterOptions{Member: member, Server: "https://m1-control-plane:6443"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server != "https://m1-control-plane:6443" || string(c.CertificateAuthorityData) != "CA DATA" || c.TLSServerName != "kubernetes" {
		t.Errorf("cluster with --server: %+v", c)
	}
	c, _ = hubCluster(RegisterOptions{Member: member, TLSServerName: "m1.internal"})
	if c.TLSServerName != "m1.internal" {
		t.Errorf("--tls-server-name ignored: %+v", c)
	}

	kc, err := buildKubeconfig("m1", c, "TOKEN")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(kc)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "m1" || len(cfg.Contexts) != 1 || len(cfg.Clusters) != 1 || len(cfg.AuthInfos) != 1 {
		t.Fatalf("kubeconfig shape: %s", kc)
	}
	u := cfg.AuthInfos[cfg.Contexts["m1"].AuthInfo]
	if u.Token != "TOKEN" || u.TokenFile != "" || u.Exec != nil || u.AuthProvider != nil || u.ClientCertificate != "" {
		t.Errorf("user: %+v", u)
	}
	if cl := cfg.Clusters[cfg.Contexts["m1"].Cluster]; cl.Server != "https://127.0.0.1:6443" || string(cl.CertificateAuthorityData) != "CA DATA" || cl.InsecureSkipTLSVerify {
		t.Errorf("cluster: %+v", cl)
	}
}

func TestHubClusterRefuses(t *testing.T) {
	for name, o := range map[string]RegisterOptions{
		"insecure":   {Member: &rest.Config{Host: "https://m:6443", TLSClientConfig: rest.TLSClientConfig{Insecure: true}}, MemberContext: "m"},
		"http":       {Member: &rest.Config{Host: "http://m:8080"}},
		"bad server": {Member: &rest.Config{Host: "https://m:6443"}, Server: "m1:6443"},
		"ca missing": {Member: &rest.Config{Host: "https://m:6443", TLSClientConfig: rest.TLSClientConfig{CAFile: "/nonexistent/ca.crt"}}},
	} {
		if _, err := hubCluster(o); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	base := RegisterOptions{Name: "m1", Member: &rest.Config{}, Hub: &rest.Config{}}
	for name, mut := range map[string]func(*RegisterOptions){
		"empty name":     func(o *RegisterOptions) { o.Name = "" },
		"bad name":       func(o *RegisterOptions) { o.Name = "M1_prod" },
		"short token":    func(o *RegisterOptions) { o.TokenDuration = 5 * time.Minute },
		"bad namespace":  func(o *RegisterOptions) { o.MemberNamespace = "a.b" },
		"no hub":         func(o *RegisterOptions) { o.Hub = nil },
		"no member conn": func(o *RegisterOptions) { o.Member = nil },
	} {
		o := base
		mut(&o)
		if err := o.defaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	o := base
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	if o.HubNamespace != DefaultNamespace || o.MemberNamespace != DefaultNamespace || o.TokenDuration != DefaultTokenDuration {
		t.Errorf("defaults: %+v", o)
	}
}

func TestLoadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	kc := `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://a:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: ctx-a
  context: {cluster: a, user: u}
- name: ctx-b
  context: {cluster: a, user: u}
current-context: ctx-b
`
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, name, err := LoadConfig(path, "")
	if err != nil || name != "ctx-b" || cfg.Host != "https://a:6443" || cfg.Timeout != DefaultRequestTimeout {
		t.Errorf("current context: %v %q %v", cfg, name, err)
	}
	_, _, err = LoadConfig(path, "prod")
	if err == nil || !strings.Contains(err.Error(), `context "prod" not found`) || !strings.Contains(err.Error(), "ctx-a, ctx-b") {
		t.Errorf("missing context: %v", err)
	}
	if _, _, err = LoadConfig(filepath.Join(t.TempDir(), "nothing"), "x"); err == nil {
		t.Error("missing kubeconfig file accepted")
	}
}
