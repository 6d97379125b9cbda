package app

import (
	"sigs.k8s.io/controller-runtime/pkg/controller"
	mcbuilder "sigs.k8s.io/multicluster-runtime/pkg/builder"
	mcmanager "sigs.k8s.io/multicluster-runtime/pkg/manager"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/pkg/config"
	"github.com/fleethub/fleethub/pkg/controller/domainmanager"
	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/pkg/memberleft"
	"github.com/fleethub/fleethub/providers/dns/cloudflare"
	"github.com/fleethub/fleethub/providers/dns/inmemory"
)

// Hub permissions of the DomainManager controller: the DNS policy and the
// DNS claims are ConfigMaps in the hub namespace.
// +kubebuilder:rbac:groups="",namespace=fleethub-system,resources=configmaps,verbs=get;list;watch;create;update;delete

// NewDNSProvider builds the hub's one DNS provider client from cfg. The
// Cloudflare provider starts without credentials: the DomainManager
// controller hands it the token from the credentials Secret.
func NewDNSProvider(cfg config.Config) dns.Provider {
	d := cfg.DNS.WithDefaults()
	if d.Provider == config.DNSProviderInMemory {
		var zones []string
		for _, s := range dns.ParseSuffixes(d.AllowedSuffixes) {
			if s != "*" {
				zones = append(zones, s)
			}
		}
		return inmemory.New(zones...)
	}
	return cloudflare.New(cloudflare.Options{
		BaseURL:           d.CloudflareAPIURL,
		RequestsPerSecond: d.RequestsPerSecond,
		RequestTimeout:    d.RequestTimeout,
		// Record lists are re-read once per resync interval, so a steady
		// state costs one paged list per zone and interval.
		RecordsTTL:        cfg.ResyncInterval,
		RateLimitCooldown: d.RateLimitBackoff,
	})
}

// setupDomainManager wires the DomainManager controller and its provider.
func setupDomainManager(mgr mcmanager.Manager, cfg config.Config, provider dns.Provider, ctrlOpts controller.TypedOptions[mcreconcile.Request], engage mcbuilder.EngageOptions, left *memberleft.Hooks) error {
	d := cfg.DNS.WithDefaults()
	return (&domainmanager.Reconciler{
		Provider:               provider,
		HubID:                  d.HubID,
		HubNamespace:           cfg.HubNamespace,
		CredentialsSecret:      d.CredentialsSecret,
		DefaultAllowedSuffixes: dns.ParseSuffixes(d.AllowedSuffixes),
		PolicyConfigMap:        d.PolicyConfigMap,
		ClaimGracePeriod:       d.ClaimGracePeriod,
		ResyncInterval:         cfg.ResyncInterval,
		RateLimitBackoff:       d.RateLimitBackoff,
		MemberLeft:             left,
	}).SetupWithManager(mgr, ctrlOpts, engage)
}
