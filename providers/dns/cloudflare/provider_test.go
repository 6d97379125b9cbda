package cloudflare_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/providers/dns/cloudflare"
	"github.com/fleethub/fleethub/providers/dns/cloudflare/cloudflaretest"
)

const tok = "token-1"

func setup(t *testing.T, mut func(*cloudflare.Options)) (*cloudflaretest.Server, *cloudflare.Provider) {
	t.Helper()
	s := cloudflaretest.NewServer(tok)
	t.Cleanup(s.Close)
	opts := cloudflare.Options{BaseURL: s.BaseURL(), RequestsPerSecond: 1000, Burst: 100, RequestTimeout: 2 * time.Second}
	if mut != nil {
		mut(&opts)
	}
	p := cloudflare.New(opts)
	p.SetCredentials(map[string][]byte{cloudflare.DefaultCredentialsKey: []byte(tok)})
	return s, p
}

func kind(t *testing.T, err error, want dns.Kind) {
	t.Helper()
	if got := dns.KindOf(err); got != want {
		t.Fatalf("error kind = %s (%v), want %s", got, err, want)
	}
}

func TestCredentials(t *testing.T) {
	s := cloudflaretest.NewServer(tok)
	defer s.Close()
	s.AddZone("example.com")
	p := cloudflare.New(cloudflare.Options{BaseURL: s.BaseURL(), RequestsPerSecond: 1000, RecordsTTL: time.Hour})
	ctx := context.Background()

	_, err := p.FindZone(ctx, "www.example.com", "")
	kind(t, err, dns.KindCredentialsMissing)
	if p.SetCredentials(nil); true {
		_, err = p.FindZone(ctx, "www.example.com", "")
		kind(t, err, dns.KindCredentialsMissing)
		if !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("message %q", err)
		}
	}
	p.SetCredentials(map[string][]byte{"other": []byte("x")})
	_, err = p.FindZone(ctx, "www.example.com", "")
	kind(t, err, dns.KindCredentialsMissing)
	if !strings.Contains(err.Error(), `"apiToken"`) {
		t.Errorf("message %q", err)
	}
	if s.Total() != 0 {
		t.Fatalf("calls without credentials: %s", s.SortedCalls())
	}

	// A wrong token: one request, then fail fast until it changes.
	if !p.SetCredentials(map[string][]byte{"apiToken": []byte("wrong")}) {
		t.Fatal("SetCredentials reported no change")
	}
	_, err = p.FindZone(ctx, "www.example.com", "")
	kind(t, err, dns.KindAuth)
	_, err = p.FindZone(ctx, "www.example.com", "")
	kind(t, err, dns.KindAuth)
	if s.Total() != 1 {
		t.Fatalf("a rejected token was retried at once: %s", s.SortedCalls())
	}

	// Rotation: the new token is used without anything else happening.
	if !p.SetCredentials(map[string][]byte{"apiToken": []byte(" " + tok + "\n")}) {
		t.Fatal("rotation not noticed")
	}
	if p.SetCredentials(map[string][]byte{"apiToken": []byte(tok)}) {
		t.Fatal("same token reported as a change")
	}
	z, err := p.FindZone(ctx, "www.example.com", "")
	if err != nil || z.Name != "example.com" {
		t.Fatalf("after rotation: %v %v", z, err)
	}

	// 401 is classified the same as 403.
	s.SetTokens("token-2")
	s.SetAuthFailureStatus(http.StatusUnauthorized)
	_, err = p.Records(ctx, z)
	kind(t, err, dns.KindAuth)
}

func TestZonesLongestMatchAndCache(t *testing.T) {
	s, p := setup(t, func(o *cloudflare.Options) { o.RecordsTTL = 300 * time.Millisecond })
	s.AddZone("example.com")
	dev := s.AddZone("dev.example.com")
	ctx := context.Background()

	z, err := p.FindZone(ctx, "API.dev.example.com", "")
	if err != nil || z.ID != dev {
		t.Fatalf("zone = %v, %v", z, err)
	}
	z, err = p.FindZone(ctx, "api.dev.example.com", "example.com")
	if err != nil || z.Name != "example.com" {
		t.Fatalf("explicit zone = %v, %v", z, err)
	}
	if n := s.Count(http.MethodGet, "/zones"); n != 1 {
		t.Fatalf("zone list read %d times", n)
	}
	// A miss with a young cache does not re-read.
	_, err = p.FindZone(ctx, "www.example.org", "")
	kind(t, err, dns.KindNotFound)
	if n := s.Count(http.MethodGet, "/zones"); n != 1 {
		t.Fatalf("young cache re-read on a miss: %d", n)
	}
	// A zone added later is found once the cache is older than RecordsTTL.
	s.AddZone("example.org")
	time.Sleep(350 * time.Millisecond)
	z, err = p.FindZone(ctx, "www.example.org", "")
	if err != nil || z.Name != "example.org" {
		t.Fatalf("new zone not found: %v %v", z, err)
	}
}

func TestRecordsPagedCachedAndWrittenThrough(t *testing.T) {
	s, p := setup(t, func(o *cloudflare.Options) { o.PageSize = 5; o.RecordsTTL = 400 * time.Millisecond })
	zid := s.AddZone("example.com")
	for i := range 12 {
		s.Seed("example.com", cloudflaretest.Record{Name: fmt.Sprintf("h%d", i), Type: "A", Content: fmt.Sprintf("192.0.2.%d", i+1)})
	}
	ctx := context.Background()
	z := dns.Zone{ID: zid, Name: "example.com"}
	listPath := "/zones/" + zid + "/dns_records"

	recs, err := p.Records(ctx, z)
	if err != nil || len(recs) != 12 {
		t.Fatalf("records = %d, %v", len(recs), err)
	}
	if n := s.Count(http.MethodGet, listPath); n != 3 {
		t.Fatalf("12 records at 5 per page took %d calls", n)
	}
	if recs[0].Name != "h0.example.com" || recs[0].TTL != 1 {
		t.Errorf("record = %+v", recs[0])
	}
	// Cached.
	if _, err := p.Records(ctx, z); err != nil || s.Count(http.MethodGet, listPath) != 3 {
		t.Fatalf("cache not used: %v\n%s", err, s.SortedCalls())
	}
	// Our writes go through the cache: no re-read needed to see them.
	created, err := p.Create(ctx, z, dns.Record{Name: "new.example.com", Type: "A", Content: "192.0.2.100", TTL: 1, Comment: "c"})
	if err != nil {
		t.Fatal(err)
	}
	updated, err := p.Update(ctx, z, dns.Record{ID: recs[1].ID, Name: recs[1].Name, Type: "A", Content: "192.0.2.200", TTL: 300, Comment: "u"})
	if err != nil || updated.Content != "192.0.2.200" || updated.TTL != 300 {
		t.Fatalf("update = %+v, %v", updated, err)
	}
	if err := p.Delete(ctx, z, recs[2].ID); err != nil {
		t.Fatal(err)
	}
	recs2, _ := p.Records(ctx, z)
	if s.Count(http.MethodGet, listPath) != 3 {
		t.Fatalf("writes forced a re-read:\n%s", s.SortedCalls())
	}
	if !has(recs2, created.ID) || has(recs2, recs[2].ID) || find(recs2, recs[1].ID).Content != "192.0.2.200" || len(recs2) != 12 {
		t.Fatalf("write-through cache wrong: %+v", recs2)
	}
	// Expired: read again (13-1 = 12 records, 3 pages).
	time.Sleep(450 * time.Millisecond)
	if _, err := p.Records(ctx, z); err != nil || s.Count(http.MethodGet, listPath) != 6 {
		t.Fatalf("expired cache not re-read: %v\n%s", err, s.SortedCalls())
	}
	// Deleting what is gone is NotFound.
	kind(t, p.Delete(ctx, z, recs[2].ID), dns.KindNotFound)
}

func has(rs []dns.Record, id string) bool { return find(rs, id).ID != "" }

func find(rs []dns.Record, id string) dns.Record {
	for _, r := range rs {
		if r.ID == id {
			return r
		}
	}
	return dns.Record{}
}

func TestTimedOutCreateIsSeenNotDuplicated(t *testing.T) {
	s, p := setup(t, func(o *cloudflare.Options) { o.RequestTimeout = 300 * time.Millisecond; o.RecordsTTL = time.Hour })
	zid := s.AddZone("example.com")
	z := dns.Zone{ID: zid, Name: "example.com"}
	ctx := context.Background()
	if _, err := p.Records(ctx, z); err != nil {
		t.Fatal(err)
	}
	s.Inject(cloudflaretest.Fault{Method: http.MethodPost, AfterApply: true, Latency: time.Second, Times: 1})
	_, err := p.Create(ctx, z, dns.Record{Name: "lost.example.com", Type: "A", Content: "192.0.2.1", TTL: 1, Comment: "mine"})
	kind(t, err, dns.KindTransient)
	// The outcome is unknown, so the cached list was dropped: the next read sees the record.
	recs, err := p.Records(ctx, z)
	if err != nil || len(recs) != 1 || recs[0].Comment != "mine" {
		t.Fatalf("records after timeout = %+v, %v", recs, err)
	}
	got, err := p.Lookup(ctx, z, "LOST.example.com.")
	if err != nil || len(got) != 1 {
		t.Fatalf("lookup = %+v, %v", got, err)
	}
	if n := len(s.Find("lost.example.com", "A")); n != 1 {
		t.Fatalf("%d records", n)
	}
}

func TestRateLimitCooldown(t *testing.T) {
	s, p := setup(t, func(o *cloudflare.Options) { o.RateLimitCooldown = 300 * time.Millisecond })
	zid := s.AddZone("example.com")
	z := dns.Zone{ID: zid, Name: "example.com"}
	ctx := context.Background()

	limited := testutil.ToFloat64(dns.RateLimited.WithLabelValues(dns.OpListRecords))
	s.Inject(cloudflaretest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: 1})
	_, err := p.Records(ctx, z)
	if v := testutil.ToFloat64(dns.RateLimited.WithLabelValues(dns.OpListRecords)) - limited; v != 1 {
		t.Errorf("domainmanager_api_rate_limited_total{list_records} rose by %v", v)
	}
	kind(t, err, dns.KindRateLimited)
	if ra := dns.RetryAfterOf(err); ra != time.Second {
		t.Fatalf("RetryAfter = %s", ra)
	}
	// During the cooldown nothing reaches Cloudflare.
	before := s.Total()
	for range 5 {
		_, err = p.Lookup(ctx, z, "x.example.com")
		kind(t, err, dns.KindRateLimited)
		if ra := dns.RetryAfterOf(err); ra <= 0 || ra > time.Second {
			t.Fatalf("cooldown RetryAfter = %s", ra)
		}
	}
	if s.Total() != before {
		t.Fatalf("calls during cooldown: %d", s.Total()-before)
	}
	// After the cooldown, one call probes while the limit lasts; the others
	// wait for its answer instead of all hitting Cloudflare.
	still := s.Inject(cloudflaretest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Latency: 100 * time.Millisecond})
	time.Sleep(1100 * time.Millisecond)
	before = s.Total()
	errs := make(chan error, 8)
	for range 8 {
		go func() { _, err := p.Lookup(ctx, z, "x.example.com"); errs <- err }()
	}
	for range 8 {
		kind(t, <-errs, dns.KindRateLimited)
	}
	if n := s.Total() - before; n != 1 {
		t.Fatalf("%d requests after the cooldown, want 1 probe", n)
	}
	still.Remove()
	time.Sleep(1100 * time.Millisecond)
	if _, err := p.Records(ctx, z); err != nil {
		t.Fatalf("after cooldown: %v", err)
	}
	// The successful probe lifted the cooldown: calls flow again.
	for range 3 {
		if _, err := p.Lookup(ctx, z, "x.example.com"); err != nil {
			t.Fatal(err)
		}
	}

	// Without Retry-After the configured cooldown applies.
	s.Inject(cloudflaretest.Fault{Status: http.StatusTooManyRequests, Times: 1})
	_, err = p.Lookup(ctx, z, "x.example.com")
	if dns.KindOf(err) != dns.KindRateLimited || dns.RetryAfterOf(err) != 300*time.Millisecond {
		t.Fatalf("err = %v, retry %s", err, dns.RetryAfterOf(err))
	}
}

func TestErrorClassification(t *testing.T) {
	s, p := setup(t, nil)
	zid := s.AddZone("example.com")
	z := dns.Zone{ID: zid, Name: "example.com"}
	ctx := context.Background()

	// 5xx after (no) retries is a plain string in cloudflare-go: still transient.
	f := s.Inject(cloudflaretest.Fault{Status: http.StatusBadGateway})
	_, err := p.Lookup(ctx, z, "a.example.com")
	kind(t, err, dns.KindTransient)
	f.Remove()

	// HTTP 200 with success:false must not look like an empty zone.
	f = s.Inject(cloudflaretest.Fault{Method: http.MethodGet, SuccessFalse: true})
	_, err = p.Records(ctx, z)
	kind(t, err, dns.KindTransient)
	f.Remove()

	rec := dns.Record{Name: "a.example.com", Type: "A", Content: "192.0.2.1", TTL: 1}
	if _, err := p.Create(ctx, z, rec); err != nil {
		t.Fatal(err)
	}
	_, err = p.Create(ctx, z, rec)
	kind(t, err, dns.KindConflict)
	if !strings.Contains(err.Error(), "81058") {
		t.Errorf("code missing: %v", err)
	}
	_, err = p.Create(ctx, z, dns.Record{Name: "a.example.com", Type: "CNAME", Content: "x.example.net", TTL: 1})
	kind(t, err, dns.KindConflict)
	_, err = p.Create(ctx, z, dns.Record{Name: "b.example.com", Type: "A", Content: "192.0.2.1", TTL: 59})
	kind(t, err, dns.KindInvalid)
	_, err = p.Update(ctx, z, dns.Record{ID: "missing", Name: "b.example.com", Type: "A", Content: "192.0.2.1", TTL: 1})
	kind(t, err, dns.KindNotFound)
	_, err = p.Records(ctx, dns.Zone{ID: "gone", Name: "gone.example"})
	kind(t, err, dns.KindNotFound)

	// A refused connection is transient.
	dead := cloudflare.New(cloudflare.Options{BaseURL: "http://127.0.0.1:1/client/v4", RequestTimeout: time.Second})
	dead.SetCredentials(map[string][]byte{"apiToken": []byte(tok)})
	_, err = dead.Lookup(ctx, z, "a.example.com")
	kind(t, err, dns.KindTransient)
}

func TestProxiedAndCanonicalFormsStayInSync(t *testing.T) {
	s, p := setup(t, nil)
	zid := s.AddZone("example.com")
	z := dns.Zone{ID: zid, Name: "example.com"}
	ctx := context.Background()
	want := dns.Desired(dns.Spec{Name: "V6.Example.com", Type: "AAAA", Value: "2001:DB8:0::1", TTL: 1, Proxied: true})
	got, err := p.Create(ctx, z, want)
	if err != nil {
		t.Fatal(err)
	}
	if !dns.InSync(want, got) {
		t.Fatalf("created %+v is not in sync with %+v", got, want)
	}
}

func TestMetricsByOperationAndCluster(t *testing.T) {
	s, p := setup(t, nil)
	zid := s.AddZone("example.com")
	z := dns.Zone{ID: zid, Name: "example.com"}
	ctx := dns.WithCluster(context.Background(), "metrics-member")
	if _, err := p.Records(ctx, z); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Create(ctx, z, dns.Record{Name: "m.example.com", Type: "A", Content: "192.0.2.1", TTL: 1}); err != nil {
		t.Fatal(err)
	}
	_, _ = p.Create(ctx, z, dns.Record{Name: "m.example.com", Type: "A", Content: "192.0.2.1", TTL: 1})
	if v := testutil.ToFloat64(dns.APICalls.WithLabelValues(dns.OpCreateRecord, "success", "metrics-member")); v != 1 {
		t.Errorf("create success = %v", v)
	}
	if v := testutil.ToFloat64(dns.APICalls.WithLabelValues(dns.OpCreateRecord, "failure", "metrics-member")); v != 1 {
		t.Errorf("create failure = %v", v)
	}
	// The list serves every DomainManager in the zone: no cluster label.
	if v := testutil.ToFloat64(dns.APICalls.WithLabelValues(dns.OpListRecords, "success", "metrics-member")); v != 0 {
		t.Errorf("shared list counted for a cluster: %v", v)
	}
	if v := testutil.ToFloat64(dns.APICalls.WithLabelValues(dns.OpListRecords, "success", "")); v < 1 {
		t.Errorf("shared list not counted: %v", v)
	}
}

func TestClientRateLimit(t *testing.T) {
	s, p := setup(t, func(o *cloudflare.Options) { o.RequestsPerSecond = 20; o.Burst = 1 })
	zid := s.AddZone("example.com")
	z := dns.Zone{ID: zid, Name: "example.com"}
	start := time.Now()
	for range 6 {
		if _, err := p.Lookup(context.Background(), z, "x.example.com"); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 240*time.Millisecond {
		t.Fatalf("6 calls at 20/s took only %s", d)
	}
}
