package domainmanager

import (
	"context"
	"errors"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/dns"
)

// errPolicyInvalid marks a hub policy that cannot be parsed: every name is
// refused until the hub admin fixes it.
var errPolicyInvalid = errors.New("the hub DNS policy is invalid")

// admission is what the admit phase established: a valid spec, the
// DomainManager as a claim holder, and the member's permissions.
type admission struct {
	spec       dns.Spec
	fqdn       string
	me         dns.Holder
	perm       dns.Permissions
	permSource string
}

// admit is the first phase: the spec must be valid and the name allowed for
// the member by hub policy (suffix and wildcard; apex and underscore names
// are decided once the zone and the base name's holder are known). It
// writes nothing anywhere; ok is false when obs says why not.
func (r *Reconciler) admit(ctx context.Context, cluster string, dm *v1alpha1.DomainManager, obs *statusInput) (admission, bool) {
	spec := dns.Spec{Name: dm.Spec.DomainName, Type: string(dm.Spec.RecordType), Value: dm.Spec.Value, TTL: int(dm.Spec.TTL), Proxied: dm.Spec.Proxied, Zone: dm.Spec.Zone}
	a := admission{spec: spec, fqdn: dns.NormalizeName(spec.Name)}
	if err := dns.Validate(spec); err != nil {
		obs.Outcome, obs.Invalid = outcomeInvalid, err
		return a, false
	}
	identity, err := r.identity(ctx, cluster)
	if err != nil {
		obs.Outcome, obs.Err = outcomeProviderError, err
		return a, false
	}
	a.me = dns.Holder{Identity: identity, Cluster: cluster, Namespace: dm.Namespace, Name: dm.Name, UID: string(dm.UID)}
	a.perm, a.permSource, err = r.permissions(ctx, cluster, identity)
	if errors.Is(err, errPolicyInvalid) {
		obs.Outcome, obs.Refusal = outcomeNotAllowed, err
		return a, false
	}
	if err != nil {
		obs.Outcome, obs.Err = outcomeProviderError, err
		return a, false
	}
	obs.PolicySource = a.permSource
	if err := a.perm.CheckName(a.fqdn); err != nil {
		obs.Outcome, obs.Refusal = outcomeNotAllowed, err
		return a, false
	}
	return a, true
}
