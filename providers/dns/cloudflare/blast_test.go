package cloudflare_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/providers/dns/cloudflare"
	"github.com/fleethub/fleethub/providers/dns/cloudflare/cloudflaretest"
)

func rec(name string) dns.Record {
	return dns.Record{Name: name, Type: "A", Content: "192.0.2.1", TTL: 1, Comment: "mine"}
}

// A zone the token may not edit fails its own writes; the other zones keep
// writing, and the token is not declared rejected.
func TestZoneWithoutPermissionFailsAlone(t *testing.T) {
	s, p := setup(t, func(o *cloudflare.Options) { o.RecordsTTL = time.Hour })
	denied := dns.Zone{ID: s.AddZone("denied.example"), Name: "denied.example"}
	open := dns.Zone{ID: s.AddZone("open.example"), Name: "open.example"}
	s.DenyZoneWrites("denied.example")
	ctx := context.Background()

	for i := range 3 {
		_, err := p.Create(ctx, denied, rec(fmt.Sprintf("a%d.denied.example", i)))
		kind(t, err, dns.KindForbidden)
		if !strings.Contains(err.Error(), "no permission for this zone") {
			t.Fatalf("message %q does not say it is this zone", err)
		}
		if _, err := p.Create(ctx, open, rec(fmt.Sprintf("a%d.open.example", i))); err != nil {
			t.Fatalf("a zone the token may edit failed after another zone's 403: %v", err)
		}
	}
	if _, err := p.Records(ctx, denied); err != nil {
		t.Fatalf("reading the read-only zone: %v", err)
	}
	if _, err := p.FindZone(ctx, "x.open.example", ""); err != nil {
		t.Fatalf("zone list after a zone's 403: %v", err)
	}
	if n := s.Count(http.MethodGet, "/user/tokens/verify"); n != 1 {
		t.Fatalf("token verified %d times, want once (the answer is cached)", n)
	}
	if n := len(s.Records("open.example")); n != 3 {
		t.Fatalf("open zone has %d records, want 3", n)
	}
}

// A token the provider rejects stops every DNS call, as before: the first
// 403 is checked, and then nothing is sent until the token changes.
func TestRejectedTokenStopsAllWrites(t *testing.T) {
	s, p := setup(t, func(o *cloudflare.Options) { o.RecordsTTL = time.Hour })
	a := dns.Zone{ID: s.AddZone("a.example"), Name: "a.example"}
	b := dns.Zone{ID: s.AddZone("b.example"), Name: "b.example"}
	ctx := context.Background()
	if _, err := p.Create(ctx, a, rec("x.a.example")); err != nil {
		t.Fatal(err)
	}
	s.SetTokens("someone-else") // revoked
	_, err := p.Create(ctx, a, rec("y.a.example"))
	kind(t, err, dns.KindAuth)
	if strings.Contains(err.Error(), "no permission for this zone") {
		t.Fatalf("a revoked token was taken for a zone permission: %v", err)
	}
	calls := s.Total()
	_, err = p.Create(ctx, b, rec("y.b.example"))
	kind(t, err, dns.KindAuth)
	if s.Total() != calls {
		t.Fatalf("calls after the token was rejected: %s", s.SortedCalls())
	}
}

// A failed write re-reads that name only, not the zone's pages.
func TestFailedWriteRereadsOnlyItsName(t *testing.T) {
	s, p := setup(t, func(o *cloudflare.Options) { o.PageSize = 5; o.RecordsTTL = time.Hour })
	zid := s.AddZone("example.com")
	for i := range 12 {
		s.Seed("example.com", cloudflaretest.Record{Name: fmt.Sprintf("h%d", i), Type: "A", Content: fmt.Sprintf("192.0.2.%d", i+1)})
	}
	z := dns.Zone{ID: zid, Name: "example.com"}
	listPath := "/zones/" + zid + "/dns_records"
	ctx := context.Background()
	if _, err := p.Records(ctx, z); err != nil {
		t.Fatal(err)
	}
	if n := s.Count(http.MethodGet, listPath); n != 3 {
		t.Fatalf("initial load took %d calls, want 3 pages", n)
	}
	// The create reaches Cloudflare but its answer is a 500.
	s.Inject(cloudflaretest.Fault{Method: http.MethodPost, AfterApply: true, Status: http.StatusInternalServerError, Times: 1})
	_, err := p.Create(ctx, z, rec("new.example.com"))
	kind(t, err, dns.KindTransient)

	recs, err := p.Records(ctx, z)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Count(http.MethodGet, listPath); n != 4 {
		t.Fatalf("after a failed write the zone took %d list calls, want 3+1 (that name only):\n%s", n, s.SortedCalls())
	}
	var found int
	for _, r := range recs {
		if r.Name == "new.example.com" {
			found++
		}
	}
	if found != 1 || len(recs) != 13 {
		t.Fatalf("cache after the name's re-read: %d records, %d named new: %+v", len(recs), found, recs)
	}
	if _, err := p.Records(ctx, z); err != nil || s.Count(http.MethodGet, listPath) != 4 {
		t.Fatalf("the re-read name is read again: %v\n%s", err, s.SortedCalls())
	}
}

// One member's flood of calls does not hold the shared budget: another
// member's call is served within a turn or two, not after the flood.
func TestMemberCannotConsumeTheBudget(t *testing.T) {
	s, p := setup(t, func(o *cloudflare.Options) { o.RequestsPerSecond = 20; o.Burst = 1 })
	z := dns.Zone{ID: s.AddZone("example.com"), Name: "example.com"}
	flood := dns.WithCluster(context.Background(), "flood")
	const n = 30
	var floodDone atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Lookup(flood, z, fmt.Sprintf("f%d.example.com", i)); err != nil {
				t.Error(err)
			}
			floodDone.Add(1)
		}()
	}
	for s.Total() < 2 { // the flood is under way
		time.Sleep(time.Millisecond)
	}
	atStart := floodDone.Load()
	if _, err := p.Lookup(dns.WithCluster(context.Background(), "quiet"), z, "q.example.com"); err != nil {
		t.Fatal(err)
	}
	ahead := floodDone.Load() - atStart
	wg.Wait()
	if ahead > 3 {
		t.Fatalf("the quiet member's call waited for %d of the flood's %d calls", ahead, n)
	}
}
