package kubeconfig

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleethub/fleethub/pkg/membersecret"
)

const goodKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://member.example:6443
    certificate-authority-data: Zm9v
users:
- name: u
  user:
    token: abc
- name: other
  user:
    token: def
contexts:
- name: main
  context: {cluster: c, user: u}
- name: second
  context: {cluster: c, user: other}
current-context: main
`

func with(old, new string) []byte { return []byte(strings.Replace(goodKubeconfig, old, new, 1)) }

func TestParse(t *testing.T) {
	tests := []struct {
		name       string
		raw        []byte
		context    string
		policy     Policy
		wantReason string
		wantToken  string
	}{
		{name: "valid", raw: []byte(goodKubeconfig), wantToken: "abc"},
		{name: "context named by annotation", raw: []byte(goodKubeconfig), context: "second", wantToken: "def"},
		{name: "unknown context", raw: []byte(goodKubeconfig), context: "nope", wantReason: ReasonContextNotFound},
		{name: "no current context", raw: with("current-context: main", ""), wantReason: ReasonContextNotFound},
		{name: "empty", raw: nil, wantReason: ReasonMissingKubeconfig},
		{name: "garbage", raw: []byte("\x00\x01 not yaml ["), wantReason: ReasonMalformedKubeconfig},
		{name: "oversized", raw: []byte(goodKubeconfig + "# " + strings.Repeat("x", MaxKubeconfigBytes)), wantReason: ReasonOversizedKubeconfig},
		{name: "exec plugin", raw: with("token: abc", "exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, id]}"), wantReason: ReasonExecPluginRefused},
		{name: "exec plugin allowed", raw: with("token: abc", "exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, interactiveMode: Never}"), policy: Policy{AllowExecPlugins: true}},
		{name: "auth provider", raw: with("token: abc", "auth-provider: {name: oidc, config: {idp-issuer-url: https://x}}"), wantReason: ReasonExecPluginRefused},
		{name: "token file", raw: with("token: abc", "tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token"), wantReason: ReasonLocalFileRefused},
		{name: "client cert file", raw: with("token: abc", "client-certificate: /etc/hub.crt\n    client-key: /etc/hub.key"), wantReason: ReasonLocalFileRefused},
		{name: "CA file", raw: with("certificate-authority-data: Zm9v", "certificate-authority: /etc/ca.crt"), wantReason: ReasonLocalFileRefused},
		{name: "insecure", raw: with("certificate-authority-data: Zm9v", "insecure-skip-tls-verify: true"), wantReason: ReasonInsecureRefused},
		{name: "insecure allowed", raw: with("certificate-authority-data: Zm9v", "insecure-skip-tls-verify: true"), policy: Policy{AllowInsecure: true}, wantToken: "abc"},
		{name: "plain http", raw: with("https://member", "http://member"), wantReason: ReasonInsecureRefused},
		{name: "no server", raw: with("server: https://member.example:6443", "server: \"\""), wantReason: ReasonMalformedKubeconfig},
		{name: "dangling user", raw: with("user: u}", "user: ghost}"), wantReason: ReasonMalformedKubeconfig},
		{name: "proxy", raw: with("certificate-authority-data: Zm9v", "certificate-authority-data: Zm9v\n    proxy-url: http://127.0.0.1:3128"), wantReason: ReasonProxyRefused},
		{name: "proxy allowed", raw: with("certificate-authority-data: Zm9v", "certificate-authority-data: Zm9v\n    proxy-url: http://127.0.0.1:3128"), policy: Policy{AllowProxy: true}, wantToken: "abc"},
		{name: "as", raw: with("token: abc", "token: abc\n    as: admin"), wantReason: ReasonImpersonationRefused},
		{name: "as-groups", raw: with("token: abc", "token: abc\n    as-groups: [system:masters]"), wantReason: ReasonImpersonationRefused},
		{name: "as-uid", raw: with("token: abc", "token: abc\n    as-uid: \"1\""), wantReason: ReasonImpersonationRefused},
		{name: "as-user-extra", raw: with("token: abc", "token: abc\n    as-user-extra: {scopes: [x]}"), wantReason: ReasonImpersonationRefused},
		{name: "impersonation allowed", raw: with("token: abc", "token: abc\n    as: admin\n    as-groups: [g]"), policy: Policy{AllowImpersonation: true}, wantToken: "abc"},
		{name: "basic auth", raw: with("token: abc", "username: admin\n    password: hunter2"), wantReason: ReasonBasicAuthRefused},
		{name: "basic auth allowed", raw: with("token: abc", "username: admin\n    password: hunter2"), policy: Policy{AllowBasicAuth: true}},
		{name: "no credential", raw: with("token: abc", "{}"), wantReason: ReasonNoCredentials},
		{name: "client cert without key", raw: with("token: abc", "client-certificate-data: Zm9v"), wantReason: ReasonNoCredentials},
		{name: "client cert and key", raw: with("token: abc", "client-certificate-data: Zm9v\n    client-key-data: Zm9v"), wantReason: ""},
		{name: "no credential allowed", raw: with("token: abc", "{}"), policy: Policy{AllowAnonymous: true}},
		{name: "link-local IPv4", raw: with("https://member.example:6443", "https://169.254.169.254"), wantReason: ReasonLinkLocalRefused},
		{name: "link-local IPv6", raw: with("https://member.example:6443", "https://[fe80::1%25eth0]:6443"), wantReason: ReasonLinkLocalRefused},
		{name: "link-local IPv4-mapped IPv6", raw: with("https://member.example:6443", "https://[::ffff:169.254.1.1]:6443"), wantReason: ReasonLinkLocalRefused},
		{name: "link-local allowed", raw: with("https://member.example:6443", "https://169.254.10.10:6443"), policy: Policy{AllowLinkLocal: true}, wantToken: "abc"},
		{name: "allow-list: name listed", raw: []byte(goodKubeconfig), policy: Policy{AllowedServers: []string{"10.0.0.0/8", "MEMBER.example"}}, wantToken: "abc"},
		{name: "allow-list: name not listed", raw: []byte(goodKubeconfig), policy: Policy{AllowedServers: []string{"other.example"}}, wantReason: ReasonServerNotAllowed},
		{name: "allow-list: IP in CIDR", raw: with("https://member.example:6443", "https://10.1.2.3:6443"), policy: Policy{AllowedServers: []string{"10.0.0.0/8"}}, wantToken: "abc"},
		{name: "allow-list: IP outside CIDR", raw: with("https://member.example:6443", "https://192.0.2.1:6443"), policy: Policy{AllowedServers: []string{"10.0.0.0/8", "192.0.2.2"}}, wantReason: ReasonServerNotAllowed},
		{name: "allow-list: exact IPv6", raw: with("https://member.example:6443", "https://[2001:db8::1]:6443"), policy: Policy{AllowedServers: []string{"2001:db8::1"}}, wantToken: "abc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(tc.raw, tc.context, tc.policy)
			if tc.wantReason != "" {
				var rej *Rejection
				if !errors.As(err, &rej) || rej.Reason != tc.wantReason || rej.Message == "" {
					t.Fatalf("want rejection %s, got %v", tc.wantReason, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantToken != "" && cfg.BearerToken != tc.wantToken {
				t.Errorf("token = %q, want %q", cfg.BearerToken, tc.wantToken)
			}
		})
	}
}

func TestSettings(t *testing.T) {
	def := ClientSettings{QPS: 50, Burst: 100, RequestTimeout: 30 * time.Second}
	got, err := Settings(map[string]string{membersecret.AnnotationQPS: "5.5", membersecret.AnnotationBurst: "7", membersecret.AnnotationTimeout: "3s"}, def)
	if err != nil || got.QPS != 5.5 || got.Burst != 7 || got.RequestTimeout != 3*time.Second {
		t.Errorf("Settings = %+v, %v", got, err)
	}
	if got, _ := Settings(nil, def); got != def {
		t.Errorf("defaults not kept: %+v", got)
	}
	at := map[string]string{membersecret.AnnotationQPS: "1000", membersecret.AnnotationBurst: "2000", membersecret.AnnotationTimeout: "5m"}
	if got, err := Settings(at, def); err != nil || got.QPS != MaxQPS || got.Burst != MaxBurst || got.RequestTimeout != MaxRequestTimeout {
		t.Errorf("Settings at the bounds = %+v, %v", got, err)
	}
	for _, bad := range []map[string]string{
		{membersecret.AnnotationQPS: "-1"}, {membersecret.AnnotationBurst: "lots"}, {membersecret.AnnotationTimeout: "soon"},
		{membersecret.AnnotationQPS: "0"}, {membersecret.AnnotationQPS: "1000.5"}, {membersecret.AnnotationQPS: "1e9"}, {membersecret.AnnotationBurst: "0"}, {membersecret.AnnotationBurst: "2001"},
		{membersecret.AnnotationTimeout: "999ms"}, {membersecret.AnnotationTimeout: "5m1s"}, {membersecret.AnnotationTimeout: "8760h"},
	} {
		var rej *Rejection
		if _, err := Settings(bad, def); !errors.As(err, &rej) || rej.Reason != ReasonInvalidAnnotation {
			t.Errorf("Settings(%v) = %v, want InvalidAnnotation", bad, err)
		}
	}
}
