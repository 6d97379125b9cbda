package kubeconfig

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/pkg/membersecret"
)

// readIdentity reads the member's identity: one GET, within the engage deadline.
func (m *member) readIdentity(ctx context.Context, core corev1client.CoreV1Interface) (string, memberState, bool) {
	p := m.p
	ictx, cancel := context.WithTimeout(ctx, p.opts.EngageTimeout)
	defer cancel()
	ns, err := core.Namespaces().Get(ictx, membersecret.IdentityNamespace, metav1.GetOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return "", memberState{}, false
		}
		st := classify(err, p.opts.EngageTimeout)
		if st.State == membersecret.StateUnauthorized {
			st.Reason = "IdentityUnreadable"
			st.Message = fmt.Sprintf("the hub may not read namespace %s, whose UID identifies the cluster (the member ClusterRole needs get on namespaces/%s; re-apply deploy/member or re-run kubectl fleethub register): %v", membersecret.IdentityNamespace, membersecret.IdentityNamespace, err)
		}
		return "", st, false
	}
	return string(ns.UID), memberState{}, true
}

// claim makes m the holder of identity id, unless another Secret holds it;
// then it returns that Secret's name. The holder is decided the same way after
// a hub restart: a Secret that already records the identity wins over one that
// does not; among those that record it, the oldest (then the first by name).
// Secrets refused as duplicates never record it.
func (m *member) claim(ctx context.Context, id string) (string, error) {
	p := m.p
	list := &corev1.SecretList{}
	if err := p.hub.List(ctx, list, client.InNamespace(p.opts.Namespace), client.MatchingLabels{membersecret.Label: "true"}); err != nil {
		return "", err
	}
	var me *corev1.Secret
	var recorded []*corev1.Secret
	for i := range list.Items {
		s := &list.Items[i]
		switch {
		case !s.DeletionTimestamp.IsZero():
		case s.Name == m.name:
			me = s
		case s.Annotations[membersecret.AnnotationClusterIdentity] == id:
			recorded = append(recorded, s)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.members[m.name] != m {
		return "", fmt.Errorf("member %s was removed", m.name)
	}
	if h, ok := p.identities[id]; ok && h != m.name {
		if _, live := p.members[h]; live {
			return h, nil
		}
	}
	mine := me != nil && me.Annotations[membersecret.AnnotationClusterIdentity] == id
	for _, s := range recorded {
		if !mine || before(s, me) {
			return s.Name, nil
		}
	}
	for other, name := range p.identities {
		if name == m.name && other != id {
			delete(p.identities, other)
		}
	}
	p.identities[id] = m.name
	return "", nil
}

func before(a, b *corev1.Secret) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// release gives up every identity a member held.
func (p *Provider) releaseLocked(name string) {
	for id, holder := range p.identities {
		if holder == name {
			delete(p.identities, id)
		}
	}
}

// recordIdentity writes the identity on the holder's Secret (only when it
// differs) and announces a cluster that is not the one the Secret had.
// It reports whether the identity changed from a recorded one.
func (m *member) recordIdentity(ctx context.Context, id string) bool {
	p := m.p
	cur := &corev1.Secret{}
	if err := p.hub.Get(ctx, client.ObjectKeyFromObject(m.secret), cur); err != nil {
		return false
	}
	was := cur.Annotations[membersecret.AnnotationClusterIdentity]
	if was == id {
		return false
	}
	orig := cur.DeepCopy()
	if cur.Annotations == nil {
		cur.Annotations = map[string]string{}
	}
	cur.Annotations[membersecret.AnnotationClusterIdentity] = id
	if err := p.hub.Patch(ctx, cur, client.MergeFrom(orig)); err != nil {
		p.log.Error(err, "Recording the member's cluster identity failed", "cluster", m.name)
	}
	if was == "" {
		return false
	}
	p.log.Info("Member cluster identity changed", "cluster", m.name, "was", was, "now", id)
	p.recorder.Eventf(m.secret, nil, corev1.EventTypeWarning, membersecret.ReasonIdentityChanged, "Identify",
		"the cluster behind this Secret has a new identity (namespace %s UID %s, was %s): it was rebuilt or the kubeconfig points at another cluster; reconnecting", membersecret.IdentityNamespace, id, was)
	return true
}
