package kubeconfig

import (
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// A member apiserver that redirects the hub elsewhere is not followed: the
// other host is never contacted, so it never sees the hub's token.
func TestRedirectToAnotherHostIsNotFollowed(t *testing.T) {
	var reached atomic.Int32
	elsewhere := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = w.Write([]byte(`{"major":"1","minor":"36","gitVersion":"v1.36.0"}`))
	}))
	defer elsewhere.Close()
	var conns atomic.Int32
	elsewhere.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	member := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusFound)
	}))
	defer member.Close()

	kc := clientcmdapi.NewConfig()
	kc.Clusters["m"] = &clientcmdapi.Cluster{Server: member.URL, CertificateAuthorityData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: member.Certificate().Raw})}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "secret-token"}
	kc.Contexts["m"] = &clientcmdapi.Context{Cluster: "m", AuthInfo: "u"}
	kc.CurrentContext = "m"
	raw, err := clientcmd.Write(*kc)
	if err != nil {
		t.Fatal(err)
	}
	p := New(Options{})
	cfg, _, err := p.restConfig("m", raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = dc.ServerVersion()
	if err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Fatalf("ServerVersion through a redirecting member = %v, want a refused redirect", err)
	}
	if n, c := reached.Load(), conns.Load(); n != 0 || c != 0 {
		t.Fatalf("the redirect target got %d requests over %d connections", n, c)
	}
}

// The dial-time guard refuses link-local addresses a host name resolved to.
// It is called here directly: nothing is dialled.
func TestDialGuardRefusesLinkLocal(t *testing.T) {
	for addr, refused := range map[string]bool{
		"169.254.169.254:80":       true,
		"[fe80::1]:6443":           true,
		"[::ffff:169.254.0.1]:443": true,
		"127.0.0.1:6443":           false,
		"[::1]:6443":               false,
		"10.0.0.1:6443":            false,
	} {
		err := refuseLinkLocal("tcp", addr, nil)
		if (err != nil) != refused {
			t.Errorf("refuseLinkLocal(%s) = %v, want refused=%v", addr, err, refused)
		}
	}
}
