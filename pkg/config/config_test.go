package config

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c.HubNamespace != "fleethub-system" || !c.LeaderElect || c.ResyncInterval != 10*time.Minute || c.LogFormat != "json" || c.MetricsAddr != ":8080" {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{name: "pod namespace is the default hub namespace", env: map[string]string{"POD_NAMESPACE": "hub"}, check: func(t *testing.T, c Config) {
			if c.HubNamespace != "hub" {
				t.Errorf("hub namespace = %q", c.HubNamespace)
			}
		}},
		{name: "env sets values", env: map[string]string{"FLEETHUB_RESYNC_INTERVAL": "30s", "FLEETHUB_LEADER_ELECT": "false", "FLEETHUB_HUB_NAMESPACE": "x"}, check: func(t *testing.T, c Config) {
			if c.ResyncInterval != 30*time.Second || c.LeaderElect || c.HubNamespace != "x" {
				t.Errorf("env not applied: %+v", c)
			}
		}},
		{name: "flag beats env", args: []string{"--resync-interval=1m"}, env: map[string]string{"FLEETHUB_RESYNC_INTERVAL": "30s"}, check: func(t *testing.T, c Config) {
			if c.ResyncInterval != time.Minute {
				t.Errorf("resync = %s", c.ResyncInterval)
			}
		}},
		{name: "bad env value names the variable", env: map[string]string{"FLEETHUB_RESYNC_INTERVAL": "soon"}, wantErr: "FLEETHUB_RESYNC_INTERVAL"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "nope"},
		{name: "too short resync", args: []string{"--resync-interval=10ms"}, wantErr: "resync-interval"},
		{name: "bad log format", args: []string{"--log-format=xml"}, wantErr: "log-format"},
		{name: "zero concurrency", args: []string{"--max-concurrent-reconciles=0"}, wantErr: "max-concurrent-reconciles"},
		{name: "reconcile deadline default", check: func(t *testing.T, c Config) {
			if c.Fairness.ReconcileTimeout != time.Minute {
				t.Errorf("reconcile-timeout = %s, want 1m", c.Fairness.ReconcileTimeout)
			}
		}},
		{name: "reconcile deadline from env", env: map[string]string{"FLEETHUB_RECONCILE_TIMEOUT": "20s"}, check: func(t *testing.T, c Config) {
			if c.Fairness.ReconcileTimeout != 20*time.Second {
				t.Errorf("reconcile-timeout = %s, want 20s", c.Fairness.ReconcileTimeout)
			}
		}},
		{name: "no reconcile deadline is refused", args: []string{"--reconcile-timeout=0"}, wantErr: "reconcile-timeout"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
		{name: "member safety defaults refuse", check: func(t *testing.T, c Config) {
			if c.Members != (MemberSafetyConfig{FailureThreshold: 3}) {
				t.Errorf("member safety defaults = %+v", c.Members)
			}
		}},
		{name: "member safety flags", args: []string{"--allow-member-proxy", "--allow-member-impersonation", "--allow-member-basic-auth", "--allow-anonymous-members", "--allow-link-local-members", "--member-failure-threshold=5"},
			env: map[string]string{"FLEETHUB_MEMBER_ALLOWED_SERVERS": "api.example.com, 10.0.0.0/8,2001:db8::1"}, check: func(t *testing.T, c Config) {
				m := c.Members
				if !m.AllowProxy || !m.AllowImpersonation || !m.AllowBasicAuth || !m.AllowAnonymous || !m.AllowLinkLocal || m.FailureThreshold != 5 {
					t.Errorf("member safety = %+v", m)
				}
				if got := strings.Join(m.AllowedServerList(), "|"); got != "api.example.com|10.0.0.0/8|2001:db8::1" {
					t.Errorf("allowed servers = %q", got)
				}
			}},
		{name: "zero failure threshold", args: []string{"--member-failure-threshold=0"}, wantErr: "member-failure-threshold"},
		{name: "bad allowed server", args: []string{"--member-allowed-servers=https://x"}, wantErr: "member-allowed-servers"},
		{name: "bad allowed CIDR", args: []string{"--member-allowed-servers=10.0.0.0/33"}, wantErr: "member-allowed-servers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.args, env(tc.env), io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("metrics-bind-address"); got != "FLEETHUB_METRICS_BIND_ADDRESS" {
		t.Errorf("EnvName = %s", got)
	}
}

// The README's configuration table must name every flag and its variable.
func TestREADMEDocumentsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range FlagNames() {
		row := "`--" + name + "`"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README lacks flag %s", row)
		}
		if name != "kubeconfig" && !strings.Contains(string(readme), "`"+EnvName(name)+"`") {
			t.Errorf("README lacks env %s", EnvName(name))
		}
	}
}
