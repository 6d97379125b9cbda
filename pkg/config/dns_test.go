package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestDNSFlags(t *testing.T) {
	env := map[string]string{
		"FLEETHUB_DNS_PROVIDER":            "inmemory",
		"FLEETHUB_DNS_ALLOWED_SUFFIXES":    "example.com, example.org",
		"FLEETHUB_DNS_RATE_LIMIT_BACKOFF":  "90s",
		"FLEETHUB_DNS_CREDENTIALS_SECRET":  "cf-token",
		"FLEETHUB_DNS_REQUESTS_PER_SECOND": "2",
		"FLEETHUB_DNS_REQUEST_TIMEOUT":     "5s",
	}
	c, err := Parse([]string{"--dns-hub-id=hub-eu", "--dns-cloudflare-api-url=http://127.0.0.1:9999/client/v4", "--dns-provider=cloudflare"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d := c.DNS
	if d.Provider != "cloudflare" || d.HubID != "hub-eu" || d.CloudflareAPIURL != "http://127.0.0.1:9999/client/v4" ||
		d.AllowedSuffixes != "example.com, example.org" || d.RateLimitBackoff != 90*time.Second || d.CredentialsSecret != "cf-token" || d.RequestsPerSecond != 2 || d.RequestTimeout != 5*time.Second {
		t.Fatalf("dns config = %+v", d)
	}

	def, err := Parse(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if def.DNS != (DNSConfig{}).WithDefaults() || def.DNS.Provider != "cloudflare" || def.DNS.CredentialsSecret != "dns-credentials" || def.DNS.RateLimitBackoff != time.Minute {
		t.Fatalf("defaults = %+v", def.DNS)
	}

	for args, want := range map[string]string{
		"--dns-provider=route53":                  "dns-provider",
		"--dns-hub-id=a/b":                        "dns-hub-id",
		"--dns-cloudflare-api-url=ftp://x":        "dns-cloudflare-api-url",
		"--dns-rate-limit-backoff=10ms":           "dns-rate-limit-backoff",
		"--dns-requests-per-second=0":             "dns-requests-per-second",
		"--dns-credentials-secret=":               "dns-credentials-secret",
		"--dns-hub-id=" + strings.Repeat("h", 41): "dns-hub-id",
	} {
		if _, err := Parse([]string{args}, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want an error about %s, got %v", args, want, err)
		}
	}
}
