package domainmanager

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/pkg/dns"
)

// Claims live in the hub namespace as ConfigMaps, one per claimed name and
// record type (README "Where DNS claims live" says why ConfigMaps):
//
//	metadata.name    dns-claim-<sha256(name)[:16]>-<type>
//	labels           app.54b3r.io/dns-claim: "true"
//	data             name, type, holder (identity, cluster, namespace,
//	                 domainManager, uid), zone, zoneID, recordID, ...
//
// Create-if-absent at the hub's apiserver decides who claimed first.
const (
	// LabelDNSClaim marks claim ConfigMaps.
	LabelDNSClaim = "app.54b3r.io/dns-claim"
	// AnnotationDNSClaimName repeats the claimed name on the object for people.
	AnnotationDNSClaimName = "app.54b3r.io/dns-name"
	claimPrefix            = "dns-claim-"
)

// claimObjectName is the ConfigMap holding the claim on name and type. The
// name is hashed (a DNS name can be longer than an object name); the object
// repeats it in its data, so a collision is detected, not obeyed.
func claimObjectName(fqdn, typ string) string {
	sum := sha256.Sum256([]byte(dns.NormalizeName(fqdn)))
	return claimPrefix + hex.EncodeToString(sum[:8]) + "-" + strings.ToLower(typ)
}

// claimTypes are the record types a claim can be for.
var claimTypes = []string{dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeTXT}

// claimStore reads and writes claims in the hub namespace. Reads go to the
// hub's cache (every replica sees the same objects); a create that loses the
// race is read back live.
type claimStore struct {
	namespace string
	cache     client.Reader
	live      client.Reader
	writer    client.Writer
}

// stored is a claim and the object it was read from (for optimistic updates).
type stored struct {
	dns.Claim
	obj *corev1.ConfigMap
}

func (s *claimStore) get(ctx context.Context, fqdn, typ string) (*stored, error) {
	return s.read(ctx, s.cache, fqdn, typ)
}

func (s *claimStore) getLive(ctx context.Context, fqdn, typ string) (*stored, error) {
	return s.read(ctx, s.live, fqdn, typ)
}

func (s *claimStore) read(ctx context.Context, from client.Reader, fqdn, typ string) (*stored, error) {
	cm := &corev1.ConfigMap{}
	err := from.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: claimObjectName(fqdn, typ)}, cm)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the hub's claim on %s %s: %w", typ, fqdn, err)
	}
	c := decodeClaim(cm)
	if !dns.SameName(c.FQDN, fqdn) || !strings.EqualFold(c.Type, typ) {
		return nil, fmt.Errorf("claim object %s/%s is for %s %s, not %s %s; refusing to use it", s.namespace, cm.Name, c.Type, c.FQDN, typ, fqdn)
	}
	return &stored{Claim: c, obj: cm}, nil
}

// all returns the claims on every record type at fqdn (cache reads).
func (s *claimStore) all(ctx context.Context, fqdn string, live bool) ([]*stored, error) {
	var out []*stored
	for _, t := range claimTypes {
		read := s.get
		if live {
			read = s.getLive
		}
		c, err := read(ctx, fqdn, t)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// create persists c if nobody claimed its name and type yet. It returns the
// claim that is persisted now: c, or the one that was there first.
func (s *claimStore) create(ctx context.Context, c dns.Claim) (*stored, bool, error) {
	cm := encodeClaim(s.namespace, c)
	err := s.writer.Create(ctx, cm)
	if apierrors.IsAlreadyExists(err) {
		cur, err := s.getLive(ctx, c.FQDN, c.Type)
		if err == nil && cur == nil {
			err = fmt.Errorf("claim on %s %s vanished while being read", c.Type, c.FQDN)
		}
		return cur, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("persisting the hub's claim on %s %s: %w", c.Type, c.FQDN, err)
	}
	return &stored{Claim: decodeClaim(cm), obj: cm}, true, nil
}

// update rewrites a claim, failing with a Conflict when it changed since it
// was read (another replica or reconcile got there first).
func (s *claimStore) update(ctx context.Context, cur *stored, c dns.Claim) (*stored, error) {
	cm := encodeClaim(s.namespace, c)
	cm.ResourceVersion, cm.UID = cur.obj.ResourceVersion, cur.obj.UID
	cm.CreationTimestamp = cur.obj.CreationTimestamp
	if err := s.writer.Update(ctx, cm); err != nil {
		return nil, fmt.Errorf("updating the hub's claim on %s %s: %w", c.Type, c.FQDN, err)
	}
	return &stored{Claim: decodeClaim(cm), obj: cm}, nil
}

// release deletes a claim, only the version that was read.
func (s *claimStore) release(ctx context.Context, cur *stored) error {
	uid, rv := cur.obj.UID, cur.obj.ResourceVersion
	err := s.writer.Delete(ctx, cur.obj, client.Preconditions{UID: &uid, ResourceVersion: &rv})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("releasing the hub's claim on %s %s: %w", cur.Type, cur.FQDN, err)
	}
	return nil
}

func encodeClaim(ns string, c dns.Claim) *corev1.ConfigMap {
	d := map[string]string{
		"name":          dns.NormalizeName(c.FQDN),
		"type":          strings.ToUpper(c.Type),
		"identity":      c.Holder.Identity,
		"cluster":       c.Holder.Cluster,
		"namespace":     c.Holder.Namespace,
		"domainManager": c.Holder.Name,
		"uid":           c.Holder.UID,
	}
	opt := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	opt("zone", c.Zone)
	opt("zoneID", c.ZoneID)
	opt("recordID", c.RecordID)
	if c.Adopted {
		d["adopted"] = "true"
		d["originalComment"] = c.OriginalComment
	}
	if p := c.Previous; p != nil {
		d["previousIdentity"], d["previousCluster"], d["previousNamespace"], d["previousDomainManager"], d["previousUID"] = p.Identity, p.Cluster, p.Namespace, p.Name, p.UID
	}
	if !c.HolderMissingSince.IsZero() {
		d["holderMissingSince"] = c.HolderMissingSince.UTC().Format(time.RFC3339)
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:        claimObjectName(c.FQDN, c.Type),
			Namespace:   ns,
			Labels:      map[string]string{LabelDNSClaim: "true"},
			Annotations: map[string]string{AnnotationDNSClaimName: dns.NormalizeName(c.FQDN)},
		},
		Data: d,
	}
}

func decodeClaim(cm *corev1.ConfigMap) dns.Claim {
	d := cm.Data
	c := dns.Claim{
		FQDN: d["name"], Type: d["type"],
		Holder:   dns.Holder{Identity: d["identity"], Cluster: d["cluster"], Namespace: d["namespace"], Name: d["domainManager"], UID: d["uid"]},
		Zone:     d["zone"],
		ZoneID:   d["zoneID"],
		RecordID: d["recordID"],
		Adopted:  d["adopted"] == "true", OriginalComment: d["originalComment"],
		Object: cm.Name, Persisted: cm.CreationTimestamp.Time,
	}
	if d["previousCluster"] != "" {
		c.Previous = &dns.Holder{Identity: d["previousIdentity"], Cluster: d["previousCluster"], Namespace: d["previousNamespace"], Name: d["previousDomainManager"], UID: d["previousUID"]}
	}
	if t, err := time.Parse(time.RFC3339, d["holderMissingSince"]); err == nil {
		c.HolderMissingSince = t
	}
	return c
}

// sameStored reports whether writing c over cur would change nothing.
func sameStored(cur *stored, c dns.Claim) bool {
	a, b := cur.Claim, c
	a.Object, a.Persisted, b.Object, b.Persisted = "", time.Time{}, "", time.Time{}
	return encodeEqual(a, b)
}

func encodeEqual(a, b dns.Claim) bool {
	ea, eb := encodeClaim("", a).Data, encodeClaim("", b).Data
	if len(ea) != len(eb) {
		return false
	}
	for k, v := range ea {
		if eb[k] != v {
			return false
		}
	}
	return true
}
