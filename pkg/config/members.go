package config

import (
	"flag"
	"fmt"
	"net/netip"
	"strings"
)

// MemberSafetyConfig is what the hub lets a member kubeconfig Secret decide
// about where and as whom the hub connects, and how patient it is with a
// member that stops answering (flags --allow-member-*, --member-allowed-servers,
// --member-failure-threshold). Everything risky is refused by default.
type MemberSafetyConfig struct {
	// AllowProxy accepts a kubeconfig proxy-url.
	AllowProxy bool
	// AllowImpersonation accepts as, as-uid, as-groups and as-user-extra.
	AllowImpersonation bool
	// AllowBasicAuth accepts username/password users.
	AllowBasicAuth bool
	// AllowAnonymous accepts users with no credential at all.
	AllowAnonymous bool
	// AllowLinkLocal accepts servers in 169.254.0.0/16 and fe80::/10.
	AllowLinkLocal bool
	// AllowedServers, if set, lists the only member server hosts: host
	// names, IP addresses or CIDRs, comma separated.
	AllowedServers string
	// FailureThreshold is how many probes in a row must fail before a Ready
	// member is reported unavailable and taken from the reconcilers.
	FailureThreshold int
}

// AllowedServerList splits AllowedServers.
func (m MemberSafetyConfig) AllowedServerList() []string {
	var out []string
	for _, s := range strings.Split(m.AllowedServers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func registerMemberSafetyFlags(fs *flag.FlagSet, m *MemberSafetyConfig) {
	fs.BoolVar(&m.AllowProxy, "allow-member-proxy", false, "Allow proxy-url in member kubeconfigs. Risky: the hub's member credentials pass through the proxy.")
	fs.BoolVar(&m.AllowImpersonation, "allow-member-impersonation", false, "Allow impersonation (as, as-uid, as-groups, as-user-extra) in member kubeconfigs. Risky: a Secret chooses whom the hub acts as.")
	fs.BoolVar(&m.AllowBasicAuth, "allow-member-basic-auth", false, "Allow username/password users in member kubeconfigs.")
	fs.BoolVar(&m.AllowAnonymous, "allow-anonymous-members", false, "Allow member kubeconfig users without any credential (anonymous requests).")
	fs.BoolVar(&m.AllowLinkLocal, "allow-link-local-members", false, "Allow member servers in 169.254.0.0/16 and fe80::/10. Risky: these are cloud metadata endpoints.")
	fs.StringVar(&m.AllowedServers, "member-allowed-servers", "", "If set, the only member server hosts the hub connects to: host names, IPs or CIDRs, comma separated.")
	fs.IntVar(&m.FailureThreshold, "member-failure-threshold", 3, "Failed probes in a row before a Ready member is reported unavailable and taken from the reconcilers.")
}

func (m MemberSafetyConfig) validate() []error {
	var errs []error
	if m.FailureThreshold < 1 {
		errs = append(errs, fmt.Errorf("member-failure-threshold must be at least 1, got %d", m.FailureThreshold))
	}
	for _, s := range m.AllowedServerList() {
		if _, err := netip.ParsePrefix(s); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(s); err == nil {
			continue
		}
		if strings.ContainsAny(s, " /:@*[]") {
			errs = append(errs, fmt.Errorf("member-allowed-servers: %q is neither a host name, an IP address nor a CIDR", s))
		}
	}
	return errs
}
