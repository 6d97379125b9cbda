package inmemory_test

import (
	"context"
	"testing"

	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/providers/dns/inmemory"
)

func TestInMemoryProvider(t *testing.T) {
	ctx := context.Background()
	p := inmemory.New("example.com", "dev.example.com")
	z, err := p.FindZone(ctx, "a.DEV.example.com", "")
	if err != nil || z.Name != "dev.example.com" {
		t.Fatalf("zone = %v %v", z, err)
	}
	if _, err := p.FindZone(ctx, "a.example.org", ""); dns.KindOf(err) != dns.KindNotFound {
		t.Fatalf("missing zone: %v", err)
	}

	a, err := p.Create(ctx, z, dns.Record{Name: "A.dev.example.com.", Type: "AAAA", Content: "2001:DB8::1", TTL: 300, Proxied: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "a.dev.example.com" || a.Content != "2001:db8::1" || a.TTL != 1 {
		t.Fatalf("stored = %+v", a)
	}
	if _, err := p.Create(ctx, z, dns.Record{Name: "a.dev.example.com", Type: "AAAA", Content: "2001:db8::1", TTL: 1}); dns.KindOf(err) != dns.KindConflict {
		t.Fatalf("identical: %v", err)
	}
	if _, err := p.Create(ctx, z, dns.Record{Name: "a.dev.example.com", Type: "CNAME", Content: "x.example.net", TTL: 1}); dns.KindOf(err) != dns.KindConflict {
		t.Fatalf("CNAME next to AAAA: %v", err)
	}
	if _, err := p.Create(ctx, z, dns.Record{Name: "a.example.org", Type: "A", Content: "192.0.2.1", TTL: 1}); dns.KindOf(err) != dns.KindInvalid {
		t.Fatalf("outside zone: %v", err)
	}
	a.Content = "2001:db8::2"
	if _, err := p.Update(ctx, z, a); err != nil {
		t.Fatal(err)
	}
	got, _ := p.Lookup(ctx, z, "a.dev.example.com")
	if len(got) != 1 || got[0].Content != "2001:db8::2" {
		t.Fatalf("lookup = %+v", got)
	}

	p.Fail(dns.OpDeleteRecord, dns.KindTransient)
	if err := p.Delete(ctx, z, a.ID); dns.KindOf(err) != dns.KindTransient {
		t.Fatalf("injected failure: %v", err)
	}
	if err := p.Delete(ctx, z, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, z, a.ID); dns.KindOf(err) != dns.KindNotFound {
		t.Fatalf("second delete: %v", err)
	}
	if recs, _ := p.Records(ctx, z); len(recs) != 0 {
		t.Fatalf("records left: %+v", recs)
	}
	if c := p.Calls(); c[dns.OpDeleteRecord] != 3 || c[dns.OpCreateRecord] != 4 {
		t.Fatalf("calls = %v", c)
	}
}
