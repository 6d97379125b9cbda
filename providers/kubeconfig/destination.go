package kubeconfig

import (
	"net/netip"
	"net/url"
	"strings"
)

// Link-local ranges: cloud metadata services (169.254.169.254, fd00:ec2::254
// aside) and other host-local endpoints live here, never a member apiserver.
var linkLocal = []netip.Prefix{netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fe80::/10")}

func isLinkLocal(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range linkLocal {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// checkDestination decides, from the server URL alone and before anything is
// dialled, whether the hub may connect there.
func checkDestination(server string, policy Policy) error {
	u, err := url.Parse(server)
	if err != nil {
		return reject(ReasonMalformedKubeconfig, "server %q is not a URL", server)
	}
	host := u.Hostname()
	addr, isIP := parseIP(host)
	if isIP && isLinkLocal(addr) && !policy.AllowLinkLocal {
		return reject(ReasonLinkLocalRefused, "server %q is link-local (169.254.0.0/16, fe80::/10): such addresses are metadata services, not apiservers (start the hub with --allow-link-local-members to permit it)", server)
	}
	if len(policy.AllowedServers) > 0 && !allowed(host, addr, isIP, policy.AllowedServers) {
		return reject(ReasonServerNotAllowed, "server host %q is not in the hub's --member-allowed-servers", host)
	}
	return nil
}

func parseIP(host string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone(""), true
}

func allowed(host string, addr netip.Addr, isIP bool, list []string) bool {
	for _, entry := range list {
		entry = strings.TrimSpace(entry)
		if p, err := netip.ParsePrefix(entry); err == nil {
			if isIP && p.Contains(addr.Unmap()) {
				return true
			}
			continue
		}
		if a, ok := parseIP(entry); ok {
			if isIP && a.Unmap() == addr.Unmap() {
				return true
			}
			continue
		}
		if !isIP && strings.EqualFold(strings.TrimSuffix(entry, "."), strings.TrimSuffix(host, ".")) {
			return true
		}
	}
	return false
}
