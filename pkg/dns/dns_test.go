package dns

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

var (
	me    = Owner{Hub: "hub1", Cluster: "alpha", Namespace: "shop", Name: "www"}
	other = Owner{Hub: "hub1", Cluster: "beta", Namespace: "shop", Name: "www"}
)

func TestMarkerRoundTrip(t *testing.T) {
	m := Marker(me)
	if !strings.HasPrefix(m, MarkerPrefix) || len(m) > MaxCommentLength {
		t.Fatalf("marker %q", m)
	}
	if want := "fleethub/" + me.Hash() + " hub1/alpha/shop/www"; m != want {
		t.Fatalf("marker = %q, want %q", m, want)
	}
	p, ok := ParseMarker(m)
	if !ok || p.Hash != me.Hash() || p.Readable != "hub1/alpha/shop/www" || p.Truncated() {
		t.Fatalf("parsed %+v %v", p, ok)
	}
	if !OwnedBy(m, me) || OwnedBy(m, other) {
		t.Fatalf("ownership wrong")
	}
	if got := DescribeOwner(m); got != "DomainManager shop/www in cluster alpha (hub hub1)" {
		t.Errorf("describe = %q", got)
	}
	if len(me.Hash()) != 16 {
		t.Errorf("hash %q is not 16 hex digits", me.Hash())
	}
}

func TestMarkerTruncationCannotBeForged(t *testing.T) {
	long := Owner{Hub: "hub1", Cluster: "a-member-cluster-with-a-long-name", Namespace: strings.Repeat("n", 63), Name: strings.Repeat("x", 200)}
	m := Marker(long)
	if len(m) != MaxCommentLength {
		t.Fatalf("long marker is %d chars, want exactly %d: %q", len(m), MaxCommentLength, m)
	}
	p, ok := ParseMarker(m)
	if !ok || !p.Truncated() {
		t.Fatalf("want a truncated marker, got %+v", p)
	}
	if !OwnedBy(m, long) {
		t.Fatal("owner does not recognise its truncated marker")
	}
	// Another DomainManager whose readable identity has the same prefix.
	twin := long
	twin.Name = strings.Repeat("x", 199) + "y"
	if Marker(twin)[len(MarkerPrefix)+16:] != m[len(MarkerPrefix)+16:] {
		t.Fatal("test setup: readable parts should be identical after truncation")
	}
	if OwnedBy(m, twin) {
		t.Fatal("a twin whose readable part truncates the same passed for the owner")
	}
	// Editing the readable part does not move ownership.
	forged := strings.Replace(Marker(me), "alpha", "beta", 1)
	if OwnedBy(forged, other) {
		t.Fatal("an edited readable part made beta the owner")
	}
	if OwnedBy(forged, me) {
		t.Fatal("a marker whose readable part disagrees with the hash must not count as ours")
	}
}

func TestParseMarker(t *testing.T) {
	for _, c := range []struct {
		comment string
		ok      bool
	}{
		{"", false},
		{"managed by hand", false},
		{"fleethub/xyz hub/a/b/c", false},
		{"fleethub/0123456789abcdef", false},
		{"fleethub/0123456789abcdef hub/a/b/c", true},
		{"  fleethub/0123456789abcdef hub/a/b/c extra words", true},
		{"fleethub/0123456789ABCDEF hub/a/b/c", false},
	} {
		if _, ok := ParseMarker(c.comment); ok != c.ok {
			t.Errorf("ParseMarker(%q) ok=%v, want %v", c.comment, ok, c.ok)
		}
	}
}

func rec(id, name, typ, content string, comment string) Record {
	return Record{ID: id, Name: name, Type: typ, Content: content, TTL: 1, Comment: comment}
}

func TestMakePlan(t *testing.T) {
	mine := Marker(me)
	theirs := Marker(other)
	want := Record{Name: "WWW.Example.com.", Type: TypeA, Content: "192.0.2.1", TTL: 1}
	cases := []struct {
		name    string
		in      PlanInput
		create  bool
		update  []string // ids
		delete  []string
		blocked Blocked
		current string
		adopted bool
	}{
		{name: "nothing there: create", in: PlanInput{Records: []Record{rec("9", "other.example.com", "A", "192.0.2.9", "")}}, create: true},
		{name: "ours and in sync: nothing", in: PlanInput{Records: []Record{rec("1", "www.example.com", "A", "192.0.2.1", mine)}}, current: "1"},
		{name: "name compared case-insensitively", in: PlanInput{Records: []Record{rec("1", "WWW.EXAMPLE.COM", "A", "192.0.2.1", mine)}}, current: "1"},
		{name: "ours with other content: update", in: PlanInput{Records: []Record{rec("1", "www.example.com", "A", "192.0.2.7", mine)}}, update: []string{"1"}},
		{name: "ours with other ttl: update", in: PlanInput{Records: []Record{{ID: "1", Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 300, Comment: mine}}}, update: []string{"1"}},
		{name: "unmanaged same type: blocked", in: PlanInput{Records: []Record{rec("5", "www.example.com", "A", "192.0.2.5", "hand made")}}, blocked: BlockedUnmanaged},
		{name: "unmanaged same type with adopt: update it", in: PlanInput{Adopt: true, Records: []Record{rec("5", "www.example.com", "A", "192.0.2.5", "")}}, update: []string{"5"}, adopted: true},
		{name: "two unmanaged with adopt: blocked", in: PlanInput{Adopt: true, Records: []Record{rec("5", "www.example.com", "A", "192.0.2.5", ""), rec("6", "www.example.com", "A", "192.0.2.6", "")}}, blocked: BlockedUnmanaged},
		{name: "unmanaged CNAME clashes with A even with adopt", in: PlanInput{Adopt: true, Records: []Record{rec("5", "www.example.com", "CNAME", "x.example.net", "")}}, blocked: BlockedUnmanaged},
		{name: "unmanaged TXT at the name does not clash with A", in: PlanInput{Records: []Record{rec("5", "www.example.com", "TXT", "v=spf1", "")}}, create: true},
		{name: "another owner's record: blocked, even with adopt", in: PlanInput{Adopt: true, Records: []Record{rec("5", "www.example.com", "A", "192.0.2.1", theirs)}}, blocked: BlockedForeign},
		{name: "duplicates of ours: keep preferred, delete rest", in: PlanInput{PreferID: "3", Records: []Record{rec("2", "www.example.com", "A", "192.0.2.1", mine), rec("3", "www.example.com", "A", "192.0.2.1", mine), rec("4", "www.example.com", "A", "192.0.2.1", mine)}}, current: "3", delete: []string{"2", "4"}},
		{name: "old name of ours is deleted, new created", in: PlanInput{Records: []Record{rec("7", "old.example.com", "A", "192.0.2.1", mine)}}, create: true, delete: []string{"7"}},
		{name: "type change CNAME→A at same name", in: PlanInput{Records: []Record{rec("7", "www.example.com", "CNAME", "x.example.net", mine)}}, create: true, delete: []string{"7"}},
		{name: "stale deleted even when blocked", in: PlanInput{Records: []Record{rec("7", "old.example.com", "A", "192.0.2.1", mine), rec("8", "www.example.com", "A", "192.0.2.8", "")}}, blocked: BlockedUnmanaged, delete: []string{"7"}},
		{name: "ours next to an unmanaged sibling: ours kept", in: PlanInput{Records: []Record{rec("1", "www.example.com", "A", "192.0.2.1", mine), rec("8", "www.example.com", "A", "192.0.2.8", "")}}, current: "1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.in.Desired = want
			c.in.Owner = me
			p := MakePlan(c.in)
			if (p.Create != nil) != c.create {
				t.Errorf("create = %v, want %v", p.Create, c.create)
			}
			if p.Create != nil && (p.Create.Name != "www.example.com" || p.Create.Comment != mine || p.Create.ID != "") {
				t.Errorf("create record = %+v", p.Create)
			}
			if got := ids(p.Update); got != strings.Join(c.update, ",") {
				t.Errorf("update = %s, want %v", got, c.update)
			}
			for _, u := range p.Update {
				if u.Comment != mine || u.Content != "192.0.2.1" {
					t.Errorf("update record %+v lacks marker or content", u)
				}
			}
			if got := ids(p.Delete); got != strings.Join(c.delete, ",") {
				t.Errorf("delete = %s, want %v", got, c.delete)
			}
			if p.Blocked != c.blocked {
				t.Errorf("blocked = %q, want %q", p.Blocked, c.blocked)
			}
			if (p.Blocked != NotBlocked) != (p.Blocker != nil) {
				t.Errorf("blocker %+v with blocked %q", p.Blocker, p.Blocked)
			}
			cur := ""
			if p.Current != nil {
				cur = p.Current.ID
			}
			if cur != c.current {
				t.Errorf("current = %q, want %q", cur, c.current)
			}
			if p.Adopted != c.adopted {
				t.Errorf("adopted = %v", p.Adopted)
			}
		})
	}
}

func ids(rs []Record) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.ID)
	}
	return strings.Join(s, ",")
}

func TestInSyncQuirks(t *testing.T) {
	// Proxied records report ttl 1 whatever was sent: no endless updates.
	d := Record{Name: "a.example.com", Type: "A", Content: "192.0.2.1", TTL: 1, Proxied: true}
	live := d
	live.TTL = 1
	if !InSync(d, live) {
		t.Error("proxied record with ttl 1 not in sync")
	}
	// IPv6 canonical form and CNAME case/trailing dot.
	if !InSync(Record{Name: "a.example.com", Type: "AAAA", Content: "2001:DB8:0:0::1", TTL: 1}, Record{Name: "A.example.com", Type: "AAAA", Content: "2001:db8::1", TTL: 1}) {
		t.Error("AAAA canonical forms differ")
	}
	if !InSync(Record{Name: "a.example.com", Type: "CNAME", Content: "Target.Example.net.", TTL: 1}, Record{Name: "a.example.com", Type: "CNAME", Content: "target.example.net", TTL: 1}) {
		t.Error("CNAME target case/dot differ")
	}
	if !InSync(Record{Name: "a.example.com", Type: "TXT", Content: "hello world", TTL: 1}, Record{Name: "a.example.com", Type: "TXT", Content: `"hello world"`, TTL: 1}) {
		t.Error("quoted TXT differs")
	}
	long := strings.Repeat("a", 255) + strings.Repeat("b", 45)
	if !InSync(Record{Name: "a.example.com", Type: "TXT", Content: long, TTL: 1}, Record{Name: "a.example.com", Type: "TXT", Content: `"` + long[:255] + `" "` + long[255:] + `"`, TTL: 1}) {
		t.Error("TXT split into 255-character strings differs")
	}
	for in, want := range map[string]string{
		`v=spf1 -all`:        `v=spf1 -all`,
		`"v=spf1 -all"`:      `v=spf1 -all`,
		`"say \"hi\""`:       `say "hi"`,
		`"a" "b"`:            `ab`,
		`"unbalanced`:        `"unbalanced`,
		`plain "quoted" mid`: `plain "quoted" mid`,
	} {
		if got := NormalizeContent(TypeTXT, in); got != want {
			t.Errorf("NormalizeContent(TXT, %s) = %s, want %s", in, got, want)
		}
	}
	if InSync(Record{Name: "a.example.com", Type: "A", Content: "192.0.2.1", TTL: 1}, Record{Name: "a.example.com", Type: "A", Content: "192.0.2.1", TTL: 1, Proxied: true}) {
		t.Error("proxied flag ignored")
	}
}

func TestPlanInheritsAPreviousHoldersRecord(t *testing.T) {
	recs := []Record{
		rec("1", "www.example.com", "A", "192.0.2.1", Marker(other)),
		rec("2", "other.example.com", "A", "192.0.2.1", Marker(other)),
		rec("3", "www.example.com", "TXT", "x", Marker(other)),
	}
	want := Record{Name: "www.example.com", Type: "A", Content: "192.0.2.9", TTL: 1}
	// Without the claim passing on, the previous holder's record blocks.
	if p := MakePlan(PlanInput{Desired: want, Owner: me, Records: recs}); p.Blocked != BlockedForeign {
		t.Fatalf("plan without inheritance = %+v", p)
	}
	// With it, its record at this name is re-marked and rewritten, its TXT
	// at this name goes, and its record at another name is not touched.
	p := MakePlan(PlanInput{Desired: want, Owner: me, Inherit: []Owner{other}, Records: recs})
	if len(p.Update) != 1 || p.Update[0].ID != "1" || !OwnedBy(p.Update[0].Comment, me) || p.Update[0].Content != "192.0.2.9" {
		t.Fatalf("update = %+v", p.Update)
	}
	if len(p.Delete) != 1 || p.Delete[0].ID != "3" || p.Create != nil {
		t.Fatalf("plan = %+v", p)
	}
}

func TestMatchZone(t *testing.T) {
	zones := []Zone{{ID: "z1", Name: "example.com"}, {ID: "z2", Name: "dev.example.com"}, {ID: "z3", Name: "example.org"}}
	for _, c := range []struct {
		name, want, zone string
		err              bool
	}{
		{name: "www.example.com", zone: "z1"},
		{name: "example.com", zone: "z1"},
		{name: "a.dev.example.com", zone: "z2"},
		{name: "A.DEV.Example.COM.", zone: "z2"},
		{name: "dev.example.com", zone: "z2"},
		{name: "a.dev.example.com", want: "example.com", zone: "z1"},
		{name: "badexample.com", err: true},
		{name: "www.example.net", err: true},
		{name: "www.example.org", want: "example.com", err: true},
		{name: "www.example.com", want: "missing.com", err: true},
	} {
		z, err := MatchZone(c.name, c.want, zones)
		if c.err {
			if err == nil {
				t.Errorf("MatchZone(%s, %s) = %v, want error", c.name, c.want, z)
			}
			continue
		}
		if err != nil || z.ID != c.zone {
			t.Errorf("MatchZone(%s, %s) = %v, %v; want %s", c.name, c.want, z, err, c.zone)
		}
	}
}

func TestAllowed(t *testing.T) {
	s := ParseSuffixes(" team-a.example.com, *.example.org ,,EXAMPLE.net.")
	if fmt.Sprint(s) != "[team-a.example.com example.org example.net]" {
		t.Fatalf("parsed %v", s)
	}
	for name, want := range map[string]bool{
		"team-a.example.com":       true,
		"x.team-a.example.com":     true,
		"X.TEAM-A.example.com.":    true,
		"xteam-a.example.com":      false,
		"example.com":              false,
		"www.example.org":          true,
		"sub.example.net":          true,
		"example.net.evil.example": false,
	} {
		if got := Allowed(name, s); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", name, got, want)
		}
	}
	if Allowed("a.example.com", nil) {
		t.Error("empty policy allowed a name")
	}
	if !Allowed("anything.example", ParseSuffixes("*")) {
		t.Error("* did not allow everything")
	}
}

func TestValidate(t *testing.T) {
	ok := Spec{Name: "www.example.com", Type: TypeA, Value: "192.0.2.1", TTL: 1}
	for _, c := range []struct {
		name string
		mut  func(*Spec)
		err  string
	}{
		{name: "valid A"},
		{name: "valid wildcard", mut: func(s *Spec) { s.Name = "*.example.com" }},
		{name: "valid underscore TXT", mut: func(s *Spec) { s.Name = "_acme-challenge.example.com"; s.Type = TypeTXT; s.Value = "token" }},
		{name: "valid AAAA", mut: func(s *Spec) { s.Type = TypeAAAA; s.Value = "2001:db8::1" }},
		{name: "valid CNAME trailing dot", mut: func(s *Spec) { s.Type = TypeCNAME; s.Value = "target.example.net." }},
		{name: "valid proxied CNAME", mut: func(s *Spec) { s.Type = TypeCNAME; s.Value = "target.example.net"; s.Proxied = true }},
		{name: "valid ttl bounds", mut: func(s *Spec) { s.TTL = 86400 }},
		{name: "valid zone", mut: func(s *Spec) { s.Zone = "example.com" }},
		{name: "single label", mut: func(s *Spec) { s.Name = "localhost" }, err: "fully qualified"},
		{name: "trailing dot", mut: func(s *Spec) { s.Name = "www.example.com." }, err: "fully qualified"},
		{name: "label too long", mut: func(s *Spec) { s.Name = strings.Repeat("a", 64) + ".example.com" }, err: "fully qualified"},
		{name: "name too long", mut: func(s *Spec) { s.Name = strings.Repeat(strings.Repeat("a", 60)+".", 5) + "com" }, err: "fully qualified"},
		{name: "leading hyphen", mut: func(s *Spec) { s.Name = "-www.example.com" }, err: "fully qualified"},
		{name: "A with IPv6", mut: func(s *Spec) { s.Value = "2001:db8::1" }, err: "IPv4"},
		{name: "A with garbage", mut: func(s *Spec) { s.Value = "1.2.3" }, err: "not an IP"},
		{name: "A with leading zeros", mut: func(s *Spec) { s.Value = "192.0.2.01" }, err: "not an IP"},
		{name: "AAAA with IPv4", mut: func(s *Spec) { s.Type = TypeAAAA }, err: "IPv6"},
		{name: "AAAA with mapped IPv4", mut: func(s *Spec) { s.Type = TypeAAAA; s.Value = "::ffff:192.0.2.1" }, err: "IPv6"},
		{name: "CNAME to itself", mut: func(s *Spec) { s.Type = TypeCNAME; s.Value = "WWW.example.com." }, err: "itself"},
		{name: "CNAME to IP-ish", mut: func(s *Spec) { s.Type = TypeCNAME; s.Value = "not a host" }, err: "hostname"},
		{name: "ttl 0", mut: func(s *Spec) { s.TTL = 0 }, err: "ttl"},
		{name: "ttl 59", mut: func(s *Spec) { s.TTL = 59 }, err: "ttl"},
		{name: "ttl too high", mut: func(s *Spec) { s.TTL = 86401 }, err: "ttl"},
		{name: "proxied TXT", mut: func(s *Spec) { s.Type = TypeTXT; s.Value = "x"; s.Proxied = true }, err: "cannot be proxied"},
		{name: "proxied with ttl", mut: func(s *Spec) { s.Proxied = true; s.TTL = 300 }, err: "ttl 1"},
		{name: "TXT too long", mut: func(s *Spec) { s.Type = TypeTXT; s.Value = strings.Repeat("x", 2049) }, err: "2048"},
		{name: "unknown type", mut: func(s *Spec) { s.Type = "MX" }, err: "recordType"},
		{name: "outside zone", mut: func(s *Spec) { s.Zone = "example.org" }, err: "not inside zone"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := ok
			if c.mut != nil {
				c.mut(&s)
			}
			err := Validate(s)
			if c.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("want error containing %q, got %v", c.err, err)
			}
		})
	}
}

func TestSucceed(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	grace := time.Hour
	cases := []struct {
		name    string
		missing time.Time
		st      HolderState
		now     time.Time
		want    Succession
	}{
		{"alive", time.Time{}, HolderState{Registered: true, Checked: true, Exists: true}, t0, HolderAlive},
		{"not checked yet counts as alive", time.Time{}, HolderState{Registered: true}, t0, HolderAlive},
		{"DomainManager gone", time.Time{}, HolderState{Registered: true, Checked: true}, t0, HolderGone},
		{"member just missing", time.Time{}, HolderState{}, t0, HolderMissing},
		{"member missing within grace", t0, HolderState{}, t0.Add(59 * time.Minute), HolderMissing},
		{"member missing past grace", t0, HolderState{}, t0.Add(time.Hour), HolderGone},
		{"member back", t0, HolderState{Registered: true}, t0.Add(2 * time.Hour), HolderAlive},
	}
	for _, c := range cases {
		if got := Succeed(Claim{HolderMissingSince: c.missing}, c.st, c.now, grace); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestHolderIdentity(t *testing.T) {
	uid := Holder{Identity: "uid-1", Cluster: "alpha", Namespace: "ns", Name: "www", UID: "u"}
	byName := Holder{Identity: "alpha", Cluster: "alpha", Namespace: "ns", Name: "www", UID: "u"}
	renamed := Holder{Identity: "uid-1", Cluster: "alpha-2", Namespace: "ns", Name: "www", UID: "u"}
	other := Holder{Identity: "uid-2", Cluster: "alpha", Namespace: "ns", Name: "www", UID: "u"}
	if !uid.SameDomainManager(byName) || !byName.SameDomainManager(uid) {
		t.Error("a claim made before the identity was recorded must stay its holder's")
	}
	if !uid.SameDomainManager(renamed) {
		t.Error("the identity, not the cluster name, names a member")
	}
	if uid.SameMember(other) {
		t.Error("another cluster under a reused name is another member")
	}
	recreated := uid
	recreated.UID = "v"
	if uid.SameDomainManager(recreated) || !uid.SameMember(recreated) {
		t.Error("a re-created DomainManager is another claimant of the same member")
	}
}

func TestClaimedFirstIgnoresMemberClocks(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := Claim{Object: "dns-claim-x-a", Persisted: t0}
	b := Claim{Object: "dns-claim-x-cname", Persisted: t0.Add(time.Second)}
	if !ClaimedFirst(a, b) || ClaimedFirst(b, a) {
		t.Fatal("the claim persisted first must win")
	}
	b.Persisted = t0
	if !ClaimedFirst(a, b) || ClaimedFirst(b, a) {
		t.Fatal("a tie must go to the smaller object name, the same way everywhere")
	}
}

func TestNameHierarchy(t *testing.T) {
	for in, want := range map[string]string{
		"_acme-challenge.www.example.com": "www.example.com",
		"_a._b.Example.COM.":              "example.com",
		"www.example.com":                 "www.example.com",
		"x._y.example.com":                "x._y.example.com",
		"_only":                           "_only",
	} {
		if got := BaseName(in); got != want {
			t.Errorf("BaseName(%q) = %q, want %q", in, got, want)
		}
	}
	if !IsUnderscore("_dmarc.example.com") || IsUnderscore("a._dmarc.example.com") || !IsWildcard("*.Example.com") || IsWildcard("a.*.example.com") {
		t.Fatal("IsUnderscore/IsWildcard wrong")
	}
}

func TestPolicy(t *testing.T) {
	doc := `
default:
  allowedSuffixes: [example.com]
members:
  beta:
    allowedSuffixes: ["team-b.example.org, *.shared.example.com"]
    wildcard: true
    underscore: true
  7c0f-uid:
    allowedSuffixes: ["*"]
    apex: true
    adopt: true
`
	p, err := ParsePolicy([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	fallback := Permissions{AllowedSuffixes: []string{"fallback.example"}}
	beta, src := p.For("", "beta", fallback)
	if src != "members.beta" || len(beta.AllowedSuffixes) != 2 || beta.AllowedSuffixes[1] != "shared.example.com" || !beta.Wildcard {
		t.Fatalf("beta = %+v from %s", beta, src)
	}
	// The identity entry wins over a name entry.
	if perm, src := p.For("7c0f-uid", "beta", fallback); src != "members.7c0f-uid" || !perm.Apex {
		t.Fatalf("by identity = %+v from %s", perm, src)
	}
	alpha, src := p.For("alpha-uid", "alpha", fallback)
	if src != "default" || alpha.AllowedSuffixes[0] != "example.com" || alpha.Wildcard || alpha.Adopt {
		t.Fatalf("alpha = %+v from %s", alpha, src)
	}
	if _, src := (Policy{}).For("x", "x", fallback); src != "hub default" {
		t.Fatalf("empty policy source %s", src)
	}
	checks := []struct {
		perm     Permissions
		name     string
		zone     string
		holdBase bool
		err      string
	}{
		{alpha, "www.example.com", "example.com", false, ""},
		{alpha, "www.example.org", "example.org", false, "outside the allowed suffixes (example.com)"},
		{alpha, "*.example.com", "example.com", false, "wildcards need the wildcard permission"},
		{alpha, "example.com", "example.com", false, "apex records need the apex permission"},
		{alpha, "_acme-challenge.www.example.com", "example.com", false, "needs the underscore permission"},
		{alpha, "_acme-challenge.www.example.com", "example.com", true, ""},
		{alpha, "_dmarc.example.com", "example.com", false, "needs the underscore permission"},
		{beta, "*.team-b.example.org", "example.org", false, ""},
		{beta, "_dmarc.team-b.example.org", "example.org", false, ""},
		{Permissions{}, "www.example.com", "example.com", false, "allowed suffixes (none)"},
	}
	for _, c := range checks {
		err := c.perm.CheckName(c.name)
		if err == nil {
			err = c.perm.CheckPlacement(c.name, c.zone, c.holdBase)
		}
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s (holds base %v): got %v, want %q", c.name, c.holdBase, err, c.err)
		}
	}
	if _, err := ParsePolicy([]byte("default: {allowedSuffixes: [x.com], wildcards: true}")); err == nil {
		t.Fatal("a misspelt permission must be refused")
	}
}

func TestErrorKinds(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &Error{Kind: KindRateLimited, Op: OpCreateRecord, RetryAfter: 90 * time.Second, Code: 10429, Err: errors.New("slow down")})
	if KindOf(err) != KindRateLimited || RetryAfterOf(err) != 90*time.Second {
		t.Fatalf("kind %s retry %s", KindOf(err), RetryAfterOf(err))
	}
	if KindOf(errors.New("x")) != KindUnknown || KindOf(nil) != "" || RetryAfterOf(nil) != 0 {
		t.Fatal("plain errors")
	}
	if !strings.Contains(err.Error(), "create_record: RateLimited (code 10429): slow down") {
		t.Fatalf("message %q", err.Error())
	}
}

func TestObserveCall(t *testing.T) {
	ctx := WithCluster(context.Background(), "test-cluster-x")
	CountAPICall(ctx, OpCreateRecord, false, nil)
	CountAPICall(ctx, OpCreateRecord, false, errors.New("boom"))
	CountAPICall(ctx, OpListRecords, true, nil)
	if v := testutil.ToFloat64(APICalls.WithLabelValues(OpCreateRecord, "success", "test-cluster-x")); v != 1 {
		t.Errorf("success count %v", v)
	}
	if v := testutil.ToFloat64(APICalls.WithLabelValues(OpCreateRecord, "failure", "test-cluster-x")); v != 1 {
		t.Errorf("failure count %v", v)
	}
	if v := testutil.ToFloat64(APICalls.WithLabelValues(OpListRecords, "success", "")); v < 1 {
		t.Errorf("shared count %v", v)
	}
}
