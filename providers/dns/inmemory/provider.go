// Package inmemory is a DNS provider that keeps zones and records in process
// memory: for demos (--dns-provider=inmemory) and tests. It follows the same
// rules as Cloudflare where they matter to fleethub — a CNAME shares its name
// with nothing, identical records are refused, proxied records report ttl 1 —
// and can be told to fail, so callers' error handling can be exercised.
package inmemory

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/fleethub/fleethub/pkg/dns"
)

// Provider is an in-memory dns.Provider. The zero value is not usable; call New.
type Provider struct {
	mu      sync.Mutex
	zones   []dns.Zone
	records map[string][]dns.Record // zone ID → records
	nextID  int
	calls   map[string]int
	faults  map[string][]*dns.Error
}

var _ dns.Provider = &Provider{}

// New returns a provider holding the given zones (zone IDs are "zone-<name>").
func New(zones ...string) *Provider {
	p := &Provider{records: map[string][]dns.Record{}, calls: map[string]int{}, faults: map[string][]*dns.Error{}}
	for _, z := range zones {
		p.AddZone(z)
	}
	return p
}

// AddZone adds a zone and returns it.
func (p *Provider) AddZone(name string) dns.Zone {
	p.mu.Lock()
	defer p.mu.Unlock()
	z := dns.Zone{ID: "zone-" + dns.NormalizeName(name), Name: dns.NormalizeName(name)}
	for _, have := range p.zones {
		if have.ID == z.ID {
			return have
		}
	}
	p.zones = append(p.zones, z)
	return z
}

// Fail makes the next call of op (a dns.Op* constant) fail with an error of
// kind; queued failures are used in order.
func (p *Provider) Fail(op string, kind dns.Kind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[op] = append(p.faults[op], &dns.Error{Kind: kind, Op: op, Err: fmt.Errorf("injected %s failure", kind)})
}

// Calls returns how often each operation was called.
func (p *Provider) Calls() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.calls {
		out[k] = v
	}
	return out
}

// All returns every record of the zone called zone, by ID.
func (p *Provider) All(zone string) []dns.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]dns.Record(nil), p.records["zone-"+dns.NormalizeName(zone)]...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Put stores a record directly, as if made by hand, and returns it.
func (p *Provider) Put(zone string, r dns.Record) dns.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextID++
	r.ID = fmt.Sprintf("rec-%06d", p.nextID)
	r.Name = dns.NormalizeName(r.Name)
	zid := "zone-" + dns.NormalizeName(zone)
	p.records[zid] = append(p.records[zid], r)
	return r
}

// begin counts a call and returns an injected failure, if one is queued. p.mu held.
func (p *Provider) begin(ctx context.Context, op string, shared bool) error {
	p.calls[op]++
	if q := p.faults[op]; len(q) > 0 {
		p.faults[op] = q[1:]
		dns.CountAPICall(ctx, op, shared, q[0])
		return q[0]
	}
	dns.CountAPICall(ctx, op, shared, nil)
	return nil
}

// FindZone implements dns.Provider.
func (p *Provider) FindZone(ctx context.Context, name, want string) (dns.Zone, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.begin(ctx, dns.OpListZones, true); err != nil {
		return dns.Zone{}, err
	}
	z, err := dns.MatchZone(name, want, p.zones)
	if err != nil {
		return dns.Zone{}, &dns.Error{Kind: dns.KindNotFound, Op: dns.OpListZones, Err: err}
	}
	return z, nil
}

func (p *Provider) zone(op string, z dns.Zone) error {
	for _, have := range p.zones {
		if have.ID == z.ID {
			return nil
		}
	}
	return dns.Errorf(dns.KindNotFound, op, "zone %s does not exist", z.ID)
}

// Records implements dns.Provider.
func (p *Provider) Records(ctx context.Context, z dns.Zone) ([]dns.Record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.begin(ctx, dns.OpListRecords, true); err != nil {
		return nil, err
	}
	if err := p.zone(dns.OpListRecords, z); err != nil {
		return nil, err
	}
	return append([]dns.Record(nil), p.records[z.ID]...), nil
}

// Lookup implements dns.Provider.
func (p *Provider) Lookup(ctx context.Context, z dns.Zone, name string) ([]dns.Record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.begin(ctx, dns.OpLookup, false); err != nil {
		return nil, err
	}
	if err := p.zone(dns.OpLookup, z); err != nil {
		return nil, err
	}
	var out []dns.Record
	for _, r := range p.records[z.ID] {
		if dns.SameName(r.Name, name) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (p *Provider) check(op string, z dns.Zone, r dns.Record) error {
	if !dns.InZone(r.Name, z.Name) {
		return dns.Errorf(dns.KindInvalid, op, "%s is not in zone %s", r.Name, z.Name)
	}
	for _, o := range p.records[z.ID] {
		if o.ID == r.ID || !dns.SameName(o.Name, r.Name) {
			continue
		}
		switch {
		case strings.EqualFold(o.Type, r.Type) && dns.NormalizeContent(o.Type, o.Content) == dns.NormalizeContent(r.Type, r.Content):
			return dns.Errorf(dns.KindConflict, op, "an identical record already exists")
		case strings.EqualFold(o.Type, dns.TypeCNAME) || strings.EqualFold(r.Type, dns.TypeCNAME):
			return dns.Errorf(dns.KindConflict, op, "a CNAME shares its name with nothing")
		}
	}
	return nil
}

func stored(r dns.Record) dns.Record {
	r.Name = dns.NormalizeName(r.Name)
	r.Content = dns.NormalizeContent(r.Type, r.Content)
	if r.Proxied || r.TTL == 0 {
		r.TTL = 1
	}
	return r
}

// Create implements dns.Provider.
func (p *Provider) Create(ctx context.Context, z dns.Zone, r dns.Record) (dns.Record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.begin(ctx, dns.OpCreateRecord, false); err != nil {
		return dns.Record{}, err
	}
	if err := p.zone(dns.OpCreateRecord, z); err != nil {
		return dns.Record{}, err
	}
	p.nextID++
	r = stored(r)
	r.ID = fmt.Sprintf("rec-%06d", p.nextID)
	if err := p.check(dns.OpCreateRecord, z, r); err != nil {
		return dns.Record{}, err
	}
	p.records[z.ID] = append(p.records[z.ID], r)
	return r, nil
}

// Update implements dns.Provider.
func (p *Provider) Update(ctx context.Context, z dns.Zone, r dns.Record) (dns.Record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.begin(ctx, dns.OpUpdateRecord, false); err != nil {
		return dns.Record{}, err
	}
	if err := p.zone(dns.OpUpdateRecord, z); err != nil {
		return dns.Record{}, err
	}
	for i, o := range p.records[z.ID] {
		if o.ID == r.ID {
			r = stored(r)
			if err := p.check(dns.OpUpdateRecord, z, r); err != nil {
				return dns.Record{}, err
			}
			p.records[z.ID][i] = r
			return r, nil
		}
	}
	return dns.Record{}, dns.Errorf(dns.KindNotFound, dns.OpUpdateRecord, "record %s does not exist", r.ID)
}

// Delete implements dns.Provider.
func (p *Provider) Delete(ctx context.Context, z dns.Zone, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.begin(ctx, dns.OpDeleteRecord, false); err != nil {
		return err
	}
	recs := p.records[z.ID]
	for i, o := range recs {
		if o.ID == id {
			p.records[z.ID] = append(recs[:i:i], recs[i+1:]...)
			return nil
		}
	}
	return dns.Errorf(dns.KindNotFound, dns.OpDeleteRecord, "record %s does not exist", id)
}
