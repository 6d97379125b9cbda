package config

import (
	"k8s.io/apimachinery/pkg/util/validation"

	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// DNS providers the hub can use for DomainManagers.
const (
	DNSProviderCloudflare = "cloudflare"
	DNSProviderInMemory   = "inmemory"
)

// DNSConfig configures DomainManager reconciliation: the one DNS provider
// client the hub shares between all members.
type DNSConfig struct {
	// Provider is cloudflare or inmemory (demos: zones are the allowed suffixes).
	Provider string
	// CredentialsSecret names the hub Secret (in the hub namespace) holding
	// the provider's API token under key "apiToken". It is watched; a
	// rotated token is used without a restart.
	CredentialsSecret string
	// CloudflareAPIURL overrides the Cloudflare API base URL (tests, proxies).
	CloudflareAPIURL string
	// HubID names this hub in the owner marker of every record it writes.
	// Hubs sharing a DNS account must have different ids.
	HubID string
	// AllowedSuffixes is the DNS policy when the policy ConfigMap is absent
	// (or has no default): domain suffixes (comma separated) members may
	// claim; "*" allows any; empty allows none. It grants no wildcard, apex,
	// underscore or adoption.
	AllowedSuffixes string
	// PolicyConfigMap names the hub DNS policy ConfigMap in the hub
	// namespace (key policy.yaml): per-member suffixes and permissions.
	PolicyConfigMap string
	// ClaimGracePeriod is how long the member holding a DNS claim may be
	// unregistered before its claims pass on to the next claimant.
	ClaimGracePeriod time.Duration
	// RateLimitBackoff is the least wait after the provider answers 429.
	RateLimitBackoff time.Duration
	// RequestsPerSecond is the client-side limit on provider API requests.
	RequestsPerSecond float64
	// RequestTimeout bounds each provider API request.
	RequestTimeout time.Duration
}

// WithDefaults fills unset fields (for configurations built in code).
func (d DNSConfig) WithDefaults() DNSConfig {
	if d.Provider == "" {
		d.Provider = DNSProviderCloudflare
	}
	if d.CredentialsSecret == "" {
		d.CredentialsSecret = "dns-credentials"
	}
	if d.HubID == "" {
		d.HubID = "fleethub"
	}
	if d.PolicyConfigMap == "" {
		d.PolicyConfigMap = "fleethub-dns-policy"
	}
	if d.ClaimGracePeriod <= 0 {
		d.ClaimGracePeriod = 24 * time.Hour
	}
	if d.RateLimitBackoff <= 0 {
		d.RateLimitBackoff = time.Minute
	}
	if d.RequestsPerSecond <= 0 {
		d.RequestsPerSecond = 4
	}
	if d.RequestTimeout <= 0 {
		d.RequestTimeout = 30 * time.Second
	}
	return d
}

func registerDNSFlags(fs *flag.FlagSet, d *DNSConfig) {
	def := DNSConfig{}.WithDefaults()
	fs.StringVar(&d.Provider, "dns-provider", def.Provider, "DNS provider for DomainManagers: cloudflare or inmemory (demos; its zones are the --dns-allowed-suffixes).")
	fs.StringVar(&d.CredentialsSecret, "dns-credentials-secret", def.CredentialsSecret, "Hub Secret (in the hub namespace) with the DNS provider's API token under key apiToken; watched and hot-reloaded.")
	fs.StringVar(&d.CloudflareAPIURL, "dns-cloudflare-api-url", "", "Cloudflare API base URL override, e.g. a fake for tests; the public API when empty.")
	fs.StringVar(&d.HubID, "dns-hub-id", def.HubID, "Name of this hub in the owner marker of every DNS record it writes; hubs sharing a DNS account need different ids.")
	fs.StringVar(&d.AllowedSuffixes, "dns-allowed-suffixes", "", "Domain suffixes (comma separated) members may claim with DomainManagers when the DNS policy ConfigMap is absent or has no default; \"*\" allows any, empty allows none.")
	fs.StringVar(&d.PolicyConfigMap, "dns-policy-configmap", def.PolicyConfigMap, "Hub ConfigMap (in the hub namespace, key policy.yaml) with the DNS policy: per-member suffixes and wildcard, apex, underscore and adoption permissions.")
	fs.DurationVar(&d.ClaimGracePeriod, "dns-claim-grace-period", def.ClaimGracePeriod, "How long the member holding a DNS claim may be unregistered before its claims pass on to the next claimant.")
	fs.DurationVar(&d.RateLimitBackoff, "dns-rate-limit-backoff", def.RateLimitBackoff, "Least wait before retrying after the DNS provider rate-limited the hub (Cloudflare blocks for minutes).")
	fs.DurationVar(&d.RequestTimeout, "dns-request-timeout", def.RequestTimeout, "Timeout of each DNS provider API request; a write that times out is looked up before it is retried.")
	fs.Float64Var(&d.RequestsPerSecond, "dns-requests-per-second", def.RequestsPerSecond, "Client-side limit on DNS provider API requests, shared by all members (Cloudflare allows 1200 per 5 minutes).")
}

func (d DNSConfig) validate() []error {
	var errs []error
	switch d.Provider {
	case DNSProviderCloudflare, DNSProviderInMemory:
	default:
		errs = append(errs, fmt.Errorf("dns-provider must be cloudflare or inmemory, got %q", d.Provider))
	}
	if d.CredentialsSecret == "" {
		errs = append(errs, errors.New("dns-credentials-secret must not be empty"))
	}
	if d.HubID == "" || strings.ContainsAny(d.HubID, "/ \t\n") || len(d.HubID) > 40 {
		errs = append(errs, fmt.Errorf("dns-hub-id must be 1 to 40 characters without '/' or spaces, got %q", d.HubID))
	}
	if d.CloudflareAPIURL != "" {
		if u, err := url.Parse(d.CloudflareAPIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("dns-cloudflare-api-url must be an http(s) URL, got %q", d.CloudflareAPIURL))
		}
	}
	if d.RateLimitBackoff < time.Second {
		errs = append(errs, fmt.Errorf("dns-rate-limit-backoff must be at least 1s, got %s", d.RateLimitBackoff))
	}
	if d.RequestsPerSecond <= 0 {
		errs = append(errs, fmt.Errorf("dns-requests-per-second must be positive, got %v", d.RequestsPerSecond))
	}
	if d.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("dns-request-timeout must be positive, got %s", d.RequestTimeout))
	}
	if d.PolicyConfigMap == "" || len(validation.IsDNS1123Subdomain(d.PolicyConfigMap)) > 0 {
		errs = append(errs, fmt.Errorf("dns-policy-configmap must be a ConfigMap name, got %q", d.PolicyConfigMap))
	}
	if d.ClaimGracePeriod < time.Second {
		errs = append(errs, fmt.Errorf("dns-claim-grace-period must be at least 1s, got %s", d.ClaimGracePeriod))
	}
	return errs
}
