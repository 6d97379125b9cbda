// Package cloudflare implements pkg/dns.Provider over the Cloudflare v4 API
// with github.com/cloudflare/cloudflare-go.
//
// One Provider serves the whole hub, so every member shares one rate-limit
// budget. It keeps:
//   - the zone list, cached (ZonesTTL; a miss refreshes it at most once per
//     RecordsTTL);
//   - every zone's records, read in pages and cached for RecordsTTL (the
//     resync interval) and kept current by the provider's own writes, so a
//     steady state costs at most one paged list per zone and interval;
//   - a cooldown after a 429, during which calls fail fast without a request;
//   - the last authentication failure, so a bad token costs one request per
//     RecordsTTL rather than one per DomainManager.
//
// The API token comes from the hub's credentials Secret through
// SetCredentials; a rotated token replaces the client without a restart.
package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	cf "github.com/cloudflare/cloudflare-go"
	"golang.org/x/time/rate"

	"github.com/fleethub/fleethub/pkg/dns"
)

// Hub permissions for the DNS credentials Secret (deploy/rbac): the hub reads
// it from its own namespace and watches it for rotations.
// +kubebuilder:rbac:groups="",namespace=fleethub-system,resources=secrets,verbs=get;list;watch

// DefaultCredentialsKey is the key of the API token in the credentials Secret.
const DefaultCredentialsKey = "apiToken"

// Options configure the provider. Zero values get the defaults in New.
type Options struct {
	// BaseURL overrides the API endpoint (tests point it at cloudflaretest).
	BaseURL string
	// CredentialsKey is the data key of the API token in the Secret ("apiToken").
	CredentialsKey string
	// RequestTimeout bounds each HTTP request (30s).
	RequestTimeout time.Duration
	// RequestsPerSecond and Burst are the client-side rate limit shared by
	// every member (Cloudflare allows 1200 requests per 5 minutes: 4/s).
	RequestsPerSecond float64
	Burst             int
	// PageSize is the number of records asked for per page (100).
	PageSize int
	// RecordsTTL is how long a zone's record list is served from cache; the
	// hub sets it to the resync interval (10m).
	RecordsTTL time.Duration
	// ZonesTTL is how long the zone list is cached (1h).
	ZonesTTL time.Duration
	// RateLimitCooldown is how long calls fail fast after a 429 that carried
	// no Retry-After (60s).
	RateLimitCooldown time.Duration
	// AuthRecheck is how long a rejected token is not tried again (RecordsTTL).
	AuthRecheck time.Duration
	// Transport is the HTTP transport below the provider's (http.DefaultTransport).
	Transport http.RoundTripper
}

// Provider is the Cloudflare DNS provider.
type Provider struct {
	opts    Options
	httpc   *http.Client
	limiter *fairLimiter

	mu           sync.Mutex
	api          *cf.API
	token        string
	credErr      string
	gen          uint64 // bumped when the credentials change
	authFailedAt time.Time
	authErr      error
	// verifiedGen/At: the token of that generation passed verification
	// then; a 403 meanwhile is about a zone or record, not the token.
	verifiedGen  uint64
	verifiedAt   time.Time
	blockedUntil time.Time
	probing      chan struct{} // closed when the probe after a cooldown has its answer

	zonesMu   sync.Mutex // serializes zone list loads
	zones     []dns.Zone
	zonesAt   time.Time
	records   map[string]*zoneRecords
	recordsMu sync.Mutex // guards the records map itself
}

// zoneRecords is the cached record list of one zone.
type zoneRecords struct {
	load sync.Mutex // serializes loads of this zone

	// guarded by Provider.mu
	recs    []dns.Record
	at      time.Time
	valid   bool
	loading bool
	spoiled bool        // an invalidation happened during the load in flight
	pending []cacheEdit // writes made during the load in flight
	// stale names had a write fail (outcome unknown): the next Records
	// re-reads just them, not the zone's pages.
	stale map[string]bool
}

type cacheEdit struct {
	rec    dns.Record
	delete bool
}

var (
	_ dns.Provider          = &Provider{}
	_ dns.CredentialsSetter = &Provider{}
	_ dns.BudgetSharer      = &Provider{}
)

// ShareBudget splits the request budget between n hub replicas calling the
// one account: this replica may spend 1/n of RequestsPerSecond and Burst
// (at least one request of burst), so the fleet as a whole stays within them.
func (p *Provider) ShareBudget(n int) {
	n = max(n, 1)
	p.limiter.setLimit(rate.Limit(p.opts.RequestsPerSecond/float64(n)), max(p.opts.Burst/n, 1))
}

// New returns a provider without credentials; every call reports
// KindCredentialsMissing until SetCredentials gives it a token.
func New(opts Options) *Provider {
	if opts.CredentialsKey == "" {
		opts.CredentialsKey = DefaultCredentialsKey
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.RequestsPerSecond <= 0 {
		opts.RequestsPerSecond = 4
	}
	if opts.Burst <= 0 {
		opts.Burst = 4
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.RecordsTTL <= 0 {
		opts.RecordsTTL = 10 * time.Minute
	}
	if opts.ZonesTTL <= 0 {
		opts.ZonesTTL = time.Hour
	}
	if opts.RateLimitCooldown <= 0 {
		opts.RateLimitCooldown = 60 * time.Second
	}
	if opts.AuthRecheck <= 0 {
		opts.AuthRecheck = opts.RecordsTTL
	}
	base := opts.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	t := &transport{base: base, limiter: newFairLimiter(rate.Limit(opts.RequestsPerSecond), opts.Burst)}
	return &Provider{
		opts:    opts,
		limiter: t.limiter,
		httpc:   &http.Client{Transport: t, Timeout: opts.RequestTimeout},
		credErr: "no DNS credentials loaded yet",
		records: map[string]*zoneRecords{},
	}
}

// SetCredentials loads the API token from the credentials Secret's data (nil
// when the Secret does not exist). A changed token replaces the client and
// drops every cache, since another token may see other zones.
func (p *Provider) SetCredentials(data map[string][]byte) bool {
	token, why := "", ""
	switch {
	case data == nil:
		why = "the DNS credentials Secret does not exist"
	case strings.TrimSpace(string(data[p.opts.CredentialsKey])) == "":
		why = fmt.Sprintf("the DNS credentials Secret has no %q key", p.opts.CredentialsKey)
	default:
		token = strings.TrimSpace(string(data[p.opts.CredentialsKey]))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if token == p.token && why == p.credErr {
		return false
	}
	p.token, p.credErr, p.api = token, why, nil
	if token != "" {
		opts := []cf.Option{
			cf.HTTPClient(p.httpc),
			// The transport rate-limits across token rotations; the
			// library's own limiter would restart with every new client.
			cf.UsingRateLimit(math.MaxFloat64),
			// No library retries: the controller backs off (and a retried
			// 429 only burns the shared budget).
			cf.UsingRetryPolicy(0, 0, 0),
			cf.UserAgent("fleethub"),
		}
		if p.opts.BaseURL != "" {
			opts = append(opts, cf.BaseURL(p.opts.BaseURL))
		}
		api, err := cf.NewWithAPIToken(token, opts...)
		if err != nil {
			p.credErr = fmt.Sprintf("building the Cloudflare client: %v", err)
		} else {
			p.api = api
		}
	}
	p.gen++
	p.authFailedAt, p.authErr = time.Time{}, nil
	p.zones, p.zonesAt = nil, time.Time{}
	p.recordsMu.Lock()
	p.records = map[string]*zoneRecords{}
	p.recordsMu.Unlock()
	return true
}

// client returns the API client for a call, or the error that makes calling
// pointless: no credentials, a rejected token, or a rate-limit cooldown. The
// first call after a cooldown probes alone (probe is true); calls meanwhile
// wait for its answer, so a lifted limit is not hit by every caller at once.
func (p *Provider) client(ctx context.Context, op string) (api *cf.API, gen uint64, probe bool, err error) {
	for {
		p.mu.Lock()
		now := time.Now()
		switch {
		case p.api == nil:
			p.mu.Unlock()
			return nil, 0, false, &dns.Error{Kind: dns.KindCredentialsMissing, Op: op, Err: errors.New(p.credErr)}
		case now.Before(p.blockedUntil):
			wait := p.blockedUntil.Sub(now)
			p.mu.Unlock()
			return nil, 0, false, &dns.Error{Kind: dns.KindRateLimited, Op: op, RetryAfter: wait,
				Err: fmt.Errorf("Cloudflare rate limit: not calling for another %s", wait.Round(time.Second))} //nolint:staticcheck // ST1005: starts with the proper noun Cloudflare
		case p.authErr != nil && now.Sub(p.authFailedAt) < p.opts.AuthRecheck:
			authErr := p.authErr
			p.mu.Unlock()
			return nil, 0, false, &dns.Error{Kind: dns.KindAuth, Op: op, Err: authErr}
		case p.probing != nil:
			ch := p.probing
			p.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, 0, false, &dns.Error{Kind: dns.KindTransient, Op: op, Err: ctx.Err()}
			}
		case !p.blockedUntil.IsZero():
			p.probing = make(chan struct{})
			probe = true
		}
		api, gen = p.api, p.gen
		p.mu.Unlock()
		return api, gen, probe, nil
	}
}

// do runs one cloudflare-go call and classifies its outcome.
func (p *Provider) do(ctx context.Context, op string, shared bool, fn func(ctx context.Context, api *cf.API) error) error {
	api, gen, probe, err := p.client(ctx, op)
	if err != nil {
		return err
	}
	info := &callInfo{op: op, shared: shared}
	err = classify(op, fn(withCallInfo(ctx, info), api), info)
	if probe {
		defer func() {
			p.mu.Lock()
			if dns.KindOf(err) != dns.KindRateLimited {
				p.blockedUntil = time.Time{}
			}
			close(p.probing)
			p.probing = nil
			p.mu.Unlock()
		}()
	}
	switch dns.KindOf(err) {
	case dns.KindRateLimited:
		var de *dns.Error
		errors.As(err, &de)
		if de.RetryAfter <= 0 {
			de.RetryAfter = p.opts.RateLimitCooldown
		}
		p.mu.Lock()
		if until := time.Now().Add(de.RetryAfter); until.After(p.blockedUntil) {
			p.blockedUntil = until
		}
		p.mu.Unlock()
	case dns.KindAuth:
		if zoneScoped(op) && p.tokenWorks(ctx, api, gen) {
			// The token is fine; this zone or record is outside what
			// it may do. Only this call fails: other zones go on.
			var de *dns.Error
			errors.As(err, &de)
			de.Kind = dns.KindForbidden
			de.Err = fmt.Errorf("the API token is valid but has no permission for this zone or record: %w", de.Err)
			return err
		}
		p.mu.Lock()
		if p.gen == gen {
			p.authFailedAt, p.authErr = time.Now(), errors.Unwrap(err)
		}
		p.mu.Unlock()
	}
	return err
}

// opVerifyToken is the token check after a 403 on a zone (metrics label).
const opVerifyToken = "verify_token"

// zoneScoped ops act on one zone: a 403 there may be that zone's permission.
func zoneScoped(op string) bool {
	switch op {
	case dns.OpListRecords, dns.OpLookup, dns.OpCreateRecord, dns.OpUpdateRecord, dns.OpDeleteRecord:
		return true
	}
	return false
}

// tokenWorks tells a token the provider rejects from a token that lacks
// permission on one zone (Cloudflare answers 403 to both): it asks the
// token-verify endpoint, at most once per AuthRecheck while it passes. When
// the check itself fails for another reason the answer is "works": one
// zone's error must not stop the fleet's DNS on a guess.
func (p *Provider) tokenWorks(ctx context.Context, api *cf.API, gen uint64) bool {
	p.mu.Lock()
	if p.verifiedGen == gen && !p.verifiedAt.IsZero() && time.Since(p.verifiedAt) < p.opts.AuthRecheck {
		p.mu.Unlock()
		return true
	}
	p.mu.Unlock()
	info := &callInfo{op: opVerifyToken, shared: true}
	body, err := api.VerifyAPIToken(withCallInfo(ctx, info))
	err = classify(opVerifyToken, err, info)
	switch {
	case dns.KindOf(err) == dns.KindAuth:
		return false
	case err == nil && body.Status != "" && body.Status != "active":
		return false // disabled or expired
	case err == nil:
		p.mu.Lock()
		if p.gen == gen {
			p.verifiedGen, p.verifiedAt = gen, time.Now()
		}
		p.mu.Unlock()
	}
	return true
}

// FindZone returns the zone a record called name belongs in (see
// dns.MatchZone). The zone list is cached for ZonesTTL; when name matches
// none, the list is re-read if it is older than RecordsTTL.
func (p *Provider) FindZone(ctx context.Context, name, want string) (dns.Zone, error) {
	zones, age, err := p.zoneList(ctx, false)
	if err != nil {
		return dns.Zone{}, err
	}
	z, merr := dns.MatchZone(name, want, zones)
	if merr != nil && age >= p.opts.RecordsTTL {
		if zones, _, err = p.zoneList(ctx, true); err != nil {
			return dns.Zone{}, err
		}
		z, merr = dns.MatchZone(name, want, zones)
	}
	if merr != nil {
		return dns.Zone{}, &dns.Error{Kind: dns.KindNotFound, Op: dns.OpListZones, Err: merr}
	}
	return z, nil
}

func (p *Provider) zoneList(ctx context.Context, refresh bool) ([]dns.Zone, time.Duration, error) {
	p.zonesMu.Lock()
	defer p.zonesMu.Unlock()
	p.mu.Lock()
	fresh := !p.zonesAt.IsZero() && time.Since(p.zonesAt) < p.opts.ZonesTTL
	if fresh && !refresh {
		zones, age := p.zones, time.Since(p.zonesAt)
		p.mu.Unlock()
		return zones, age, nil
	}
	gen := p.gen
	p.mu.Unlock()

	var zones []dns.Zone
	err := p.do(ctx, dns.OpListZones, true, func(ctx context.Context, api *cf.API) error {
		res, err := api.ListZonesContext(ctx)
		if err != nil {
			return err
		}
		for _, z := range res.Result {
			zones = append(zones, dns.Zone{ID: z.ID, Name: dns.NormalizeName(z.Name)})
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	p.mu.Lock()
	if p.gen == gen {
		p.zones, p.zonesAt = zones, time.Now()
	}
	p.mu.Unlock()
	return zones, 0, nil
}

func (p *Provider) zoneRecords(zoneID string) *zoneRecords {
	p.recordsMu.Lock()
	defer p.recordsMu.Unlock()
	zr := p.records[zoneID]
	if zr == nil {
		zr = &zoneRecords{}
		p.records[zoneID] = zr
	}
	return zr
}

// Records returns every record of the zone, from cache when it is younger
// than RecordsTTL. Concurrent callers for one zone share one load.
func (p *Provider) Records(ctx context.Context, zone dns.Zone) ([]dns.Record, error) {
	zr := p.zoneRecords(zone.ID)
	zr.load.Lock()
	defer zr.load.Unlock()

	p.mu.Lock()
	if zr.valid && time.Since(zr.at) < p.opts.RecordsTTL {
		stale := make([]string, 0, len(zr.stale))
		for name := range zr.stale {
			stale = append(stale, name)
		}
		p.mu.Unlock()
		for _, name := range stale {
			if _, err := p.refreshName(ctx, zone, name, dns.OpLookup, true); err != nil {
				return nil, err
			}
		}
		p.mu.Lock()
		out := append([]dns.Record(nil), zr.recs...)
		p.mu.Unlock()
		return out, nil
	}
	zr.loading, zr.spoiled, zr.pending = true, false, nil
	for name := range zr.stale {
		zr.stale[name] = true // failed before this load: the load sees the outcome
	}
	gen := p.gen
	p.mu.Unlock()

	recs, err := p.list(ctx, zone, "", dns.OpListRecords, true)

	p.mu.Lock()
	defer p.mu.Unlock()
	zr.loading = false
	pending, spoiled := zr.pending, zr.spoiled
	zr.pending = nil
	if err != nil {
		return nil, err
	}
	// Writes that completed during the load may or may not be in the pages
	// read; replay them so the cache reflects them either way.
	for _, e := range pending {
		recs = applyEdit(recs, e)
	}
	if p.gen == gen && !spoiled {
		zr.recs, zr.at, zr.valid = recs, time.Now(), true
		// Names whose write failed before this load began are read fresh
		// now; those failing during it stay stale (the pages may predate
		// the write).
		for name, before := range zr.stale {
			if before {
				delete(zr.stale, name)
			}
		}
	}
	return append([]dns.Record(nil), recs...), nil
}

// Lookup reads the records at name straight from the API (no cache) and
// refreshes the cached list for that name.
func (p *Provider) Lookup(ctx context.Context, zone dns.Zone, name string) ([]dns.Record, error) {
	return p.refreshName(ctx, zone, name, dns.OpLookup, false)
}

// refreshName reads the records at name and puts them in the cached list in
// place of what it had for name; name is no longer stale.
func (p *Provider) refreshName(ctx context.Context, zone dns.Zone, name, op string, shared bool) ([]dns.Record, error) {
	name = dns.NormalizeName(name)
	recs, err := p.list(ctx, zone, name, op, shared)
	if err != nil {
		return nil, err
	}
	zr := p.zoneRecords(zone.ID)
	p.mu.Lock()
	defer p.mu.Unlock()
	if zr.valid {
		kept := zr.recs[:0:0]
		for _, r := range zr.recs {
			if !dns.SameName(r.Name, name) {
				kept = append(kept, r)
			}
		}
		zr.recs = append(kept, recs...)
		if !zr.loading {
			delete(zr.stale, name)
		}
	}
	return recs, nil
}

// list reads all pages of a zone's records (optionally only those at name).
func (p *Provider) list(ctx context.Context, zone dns.Zone, name, op string, shared bool) ([]dns.Record, error) {
	var out []dns.Record
	seen := map[string]bool{}
	for page := 1; ; page++ {
		var info *cf.ResultInfo
		var batch []cf.DNSRecord
		err := p.do(ctx, op, shared, func(ctx context.Context, api *cf.API) error {
			var err error
			batch, info, err = api.ListDNSRecords(ctx, cf.ZoneIdentifier(zone.ID), cf.ListDNSRecordsParams{
				Name:       name,
				ResultInfo: cf.ResultInfo{Page: page, PerPage: p.opts.PageSize},
			})
			return err
		})
		if err != nil {
			if dns.KindOf(err) == dns.KindNotFound {
				p.dropZones()
			}
			return nil, err
		}
		for _, r := range batch {
			if !seen[r.ID] { // a write between pages can shift a record onto the next page
				seen[r.ID] = true
				out = append(out, fromCF(r))
			}
		}
		if info == nil || page >= info.TotalPages || len(batch) == 0 {
			return out, nil
		}
	}
}

// Create creates rec and adds it to the cached list.
func (p *Provider) Create(ctx context.Context, zone dns.Zone, rec dns.Record) (dns.Record, error) {
	var got cf.DNSRecord
	err := p.do(ctx, dns.OpCreateRecord, false, func(ctx context.Context, api *cf.API) error {
		var err error
		got, err = api.CreateDNSRecord(ctx, cf.ZoneIdentifier(zone.ID), cf.CreateDNSRecordParams{
			Type: rec.Type, Name: rec.Name, Content: rec.Content, TTL: rec.TTL, Proxied: &rec.Proxied, Comment: rec.Comment,
		})
		return err
	})
	if err == nil && got.ID == "" {
		err = dns.Errorf(dns.KindTransient, dns.OpCreateRecord, "Cloudflare answered without a record")
	}
	if err != nil {
		// A timeout or a 5xx may have created it anyway, and a conflict
		// means our list is stale at this name: re-read it (only it)
		// before the next decision.
		p.staleName(zone.ID, rec.Name)
		return dns.Record{}, err
	}
	out := fromCF(got)
	p.edit(zone.ID, cacheEdit{rec: out})
	return out, nil
}

// Update rewrites the record rec.ID and updates the cached list.
func (p *Provider) Update(ctx context.Context, zone dns.Zone, rec dns.Record) (dns.Record, error) {
	var got cf.DNSRecord
	err := p.do(ctx, dns.OpUpdateRecord, false, func(ctx context.Context, api *cf.API) error {
		var err error
		comment := rec.Comment
		got, err = api.UpdateDNSRecord(ctx, cf.ZoneIdentifier(zone.ID), cf.UpdateDNSRecordParams{
			ID: rec.ID, Type: rec.Type, Name: rec.Name, Content: rec.Content, TTL: rec.TTL, Proxied: &rec.Proxied, Comment: &comment,
		})
		return err
	})
	if err == nil && got.ID == "" {
		err = dns.Errorf(dns.KindTransient, dns.OpUpdateRecord, "Cloudflare answered without a record")
	}
	if err != nil {
		p.staleName(zone.ID, rec.Name)
		return dns.Record{}, err
	}
	out := fromCF(got)
	p.edit(zone.ID, cacheEdit{rec: out})
	return out, nil
}

// Delete deletes the record and drops it from the cached list. A record that
// is already gone gives KindNotFound (and is dropped too).
func (p *Provider) Delete(ctx context.Context, zone dns.Zone, id string) error {
	err := p.do(ctx, dns.OpDeleteRecord, false, func(ctx context.Context, api *cf.API) error {
		return api.DeleteDNSRecord(ctx, cf.ZoneIdentifier(zone.ID), id)
	})
	if err == nil || dns.KindOf(err) == dns.KindNotFound {
		p.edit(zone.ID, cacheEdit{rec: dns.Record{ID: id}, delete: true})
	} else {
		p.staleRecord(zone.ID, id)
	}
	return err
}

// edit applies one of our own writes to the cached list (write-through).
func (p *Provider) edit(zoneID string, e cacheEdit) {
	zr := p.zoneRecords(zoneID)
	p.mu.Lock()
	defer p.mu.Unlock()
	if zr.loading {
		zr.pending = append(zr.pending, e)
	}
	if zr.valid {
		zr.recs = applyEdit(zr.recs, e)
	}
}

// staleName marks name's cached records unknown after a failed write: the
// next Records call re-reads that name alone.
func (p *Provider) staleName(zoneID, name string) {
	zr := p.zoneRecords(zoneID)
	p.mu.Lock()
	defer p.mu.Unlock()
	if zr.stale == nil {
		zr.stale = map[string]bool{}
	}
	zr.stale[dns.NormalizeName(name)] = false
}

// staleRecord is staleName for the record id; a record the cache does not
// know drops the zone's list (its name is unknown).
func (p *Provider) staleRecord(zoneID, id string) {
	zr := p.zoneRecords(zoneID)
	p.mu.Lock()
	name := ""
	for _, r := range zr.recs {
		if r.ID == id {
			name = r.Name
		}
	}
	p.mu.Unlock()
	if name != "" {
		p.staleName(zoneID, name)
		return
	}
	p.invalidate(zoneID)
}

// invalidate drops a zone's cached list: the next Records call re-reads it.
func (p *Provider) invalidate(zoneID string) {
	zr := p.zoneRecords(zoneID)
	p.mu.Lock()
	defer p.mu.Unlock()
	zr.valid = false
	if zr.loading {
		zr.spoiled = true
	}
}

func (p *Provider) dropZones() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.zonesAt = time.Time{}
}

func applyEdit(recs []dns.Record, e cacheEdit) []dns.Record {
	out := make([]dns.Record, 0, len(recs)+1)
	found := false
	for _, r := range recs {
		if r.ID == e.rec.ID {
			found = true
			if e.delete {
				continue
			}
			r = e.rec
		}
		out = append(out, r)
	}
	if !found && !e.delete {
		out = append(out, e.rec)
	}
	return out
}

func fromCF(r cf.DNSRecord) dns.Record {
	out := dns.Record{ID: r.ID, Name: dns.NormalizeName(r.Name), Type: r.Type, Content: r.Content, TTL: r.TTL, Comment: r.Comment}
	if r.Proxied != nil {
		out.Proxied = *r.Proxied
	}
	return out
}
