package cloudflaretest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	cf "github.com/cloudflare/cloudflare-go"

	"github.com/fleethub/fleethub/providers/dns/cloudflare/cloudflaretest"
)

const token = "good-token"

func client(t *testing.T, s *cloudflaretest.Server, tok string) *cf.API {
	t.Helper()
	api, err := cf.NewWithAPIToken(tok, cf.BaseURL(s.BaseURL()), cf.UsingRetryPolicy(0, 0, 0), cf.UsingRateLimit(1000),
		cf.HTTPClient(&http.Client{Timeout: 2 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func codeOf(err error) (int, int) {
	var codes []int
	status := 0
	var re *cf.RequestError
	var nf *cf.NotFoundError
	var an *cf.AuthenticationError
	var az *cf.AuthorizationError
	var rl *cf.RatelimitError
	switch {
	case errors.As(err, &re):
		codes, status = re.ErrorCodes(), 400
	case errors.As(err, &nf):
		codes, status = nf.ErrorCodes(), 404
	case errors.As(err, &an):
		codes, status = an.ErrorCodes(), 403
	case errors.As(err, &az):
		codes, status = az.ErrorCodes(), 401
	case errors.As(err, &rl):
		codes, status = rl.ErrorCodes(), 429
	}
	if len(codes) == 0 {
		return status, 0
	}
	return status, codes[0]
}

func TestZonesPagingAndFilter(t *testing.T) {
	s := cloudflaretest.NewServer(token)
	defer s.Close()
	for i := range 60 {
		s.AddZone(fmt.Sprintf("zone%02d.example", i))
	}
	api := client(t, s, token)
	ctx := context.Background()
	res, err := api.ListZonesContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Result) != 60 {
		t.Fatalf("got %d zones", len(res.Result))
	}
	if n := s.Count(http.MethodGet, "/zones"); n != 2 {
		t.Errorf("60 zones at 50 per page took %d calls", n)
	}
	one, err := api.ListZonesContext(ctx, cf.WithZoneFilters("ZONE07.example", "", ""))
	if err != nil || len(one.Result) != 1 || one.Result[0].ID != s.ZoneID("zone07.example") {
		t.Fatalf("filtered zones = %+v, %v", one.Result, err)
	}
}

func TestRecordsWireFormat(t *testing.T) {
	s := cloudflaretest.NewServer(token)
	defer s.Close()
	zid := s.AddZone("example.com")
	api := client(t, s, token)
	ctx := context.Background()
	rc := cf.ZoneIdentifier(zid)

	for i := range 12 {
		if _, err := api.CreateDNSRecord(ctx, rc, cf.CreateDNSRecordParams{Type: "A", Name: fmt.Sprintf("host%02d", i), Content: fmt.Sprintf("192.0.2.%d", i+1), TTL: 300, Comment: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	// Manual paging: the page is echoed and totals are consistent.
	for page := 1; page <= 3; page++ {
		recs, info, err := api.ListDNSRecords(ctx, rc, cf.ListDNSRecordsParams{ResultInfo: cf.ResultInfo{Page: page, PerPage: 5}})
		if err != nil {
			t.Fatal(err)
		}
		want := 5
		if page == 3 {
			want = 2
		}
		if len(recs) != want || info.Page != page || info.PerPage != 5 || info.Count != want || info.Total != 12 || info.TotalPages != 3 {
			t.Fatalf("page %d: %d records, info %+v", page, len(recs), info)
		}
	}
	// Automatic paging (100 per page) returns everything in one call.
	s.ResetCalls()
	all, _, err := api.ListDNSRecords(ctx, rc, cf.ListDNSRecordsParams{})
	if err != nil || len(all) != 12 {
		t.Fatalf("all = %d, %v", len(all), err)
	}
	if n := s.Count(http.MethodGet, "/zones/"+zid+"/dns_records"); n != 1 {
		t.Errorf("list took %d calls", n)
	}
	if all[0].Name != "host00.example.com" || all[0].TTL != 300 || all[0].Comment != "c" {
		t.Errorf("record = %+v", all[0])
	}
	// Filters: name (case-insensitive) and type.
	got, _, err := api.ListDNSRecords(ctx, rc, cf.ListDNSRecordsParams{Name: "HOST03.example.com", Type: "A"})
	if err != nil || len(got) != 1 || got[0].Content != "192.0.2.4" {
		t.Fatalf("filtered = %+v, %v", got, err)
	}
	got, _, _ = api.ListDNSRecords(ctx, rc, cf.ListDNSRecordsParams{Name: "host03.example.com", Type: "TXT"})
	if len(got) != 0 {
		t.Fatalf("type filter ignored: %+v", got)
	}

	// Raw envelope of an empty comment: the field is omitted.
	r, err := api.CreateDNSRecord(ctx, rc, cf.CreateDNSRecordParams{Type: "TXT", Name: "txt.example.com", Content: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	body := raw(t, s, http.MethodGet, "/zones/"+zid+"/dns_records/"+r.ID, token)
	if strings.Contains(body, `"comment"`) || !strings.Contains(body, `"success":true`) || !strings.Contains(body, `"errors":[]`) {
		t.Errorf("envelope = %s", body)
	}
	// DELETE answers with a JSON body naming the id.
	body = raw(t, s, http.MethodDelete, "/zones/"+zid+"/dns_records/"+r.ID, token)
	if !strings.Contains(body, `"id":"`+r.ID+`"`) || !strings.Contains(body, `"success":true`) {
		t.Errorf("delete body = %s", body)
	}
	if err := api.DeleteDNSRecord(ctx, rc, r.ID); err == nil {
		t.Fatal("second delete succeeded")
	} else if st, code := codeOf(err); st != 404 || code != cloudflaretest.CodeRecordNotFound {
		t.Fatalf("second delete: %d %d %v", st, code, err)
	}
}

func raw(t *testing.T, s *cloudflaretest.Server, method, path, tok string) string {
	t.Helper()
	req, _ := http.NewRequest(method, s.BaseURL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestRecordRulesAndErrorCodes(t *testing.T) {
	s := cloudflaretest.NewServer(token)
	defer s.Close()
	zid := s.AddZone("example.com")
	api := client(t, s, token)
	ctx := context.Background()
	rc := cf.ZoneIdentifier(zid)
	create := func(p cf.CreateDNSRecordParams) (cf.DNSRecord, error) { return api.CreateDNSRecord(ctx, rc, p) }

	a, err := create(cf.CreateDNSRecordParams{Type: "A", Name: "www.example.com", Content: "192.0.2.1", TTL: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Round-robin A records are fine; an identical one is not.
	if _, err := create(cf.CreateDNSRecordParams{Type: "A", Name: "www.example.com", Content: "192.0.2.2"}); err != nil {
		t.Fatalf("second A with other content: %v", err)
	}
	for name, c := range map[string]struct {
		p      cf.CreateDNSRecordParams
		status int
		code   int
	}{
		"identical":          {cf.CreateDNSRecordParams{Type: "A", Name: "WWW.example.com", Content: "192.0.2.1"}, 400, cloudflaretest.CodeIdenticalRecord},
		"CNAME over A":       {cf.CreateDNSRecordParams{Type: "CNAME", Name: "www.example.com", Content: "x.example.net"}, 400, cloudflaretest.CodeHostHasRecord},
		"bad ttl":            {cf.CreateDNSRecordParams{Type: "A", Name: "t.example.com", Content: "192.0.2.1", TTL: 59}, 400, cloudflaretest.CodeValidation},
		"bad A content":      {cf.CreateDNSRecordParams{Type: "A", Name: "t.example.com", Content: "2001:db8::1"}, 400, cloudflaretest.CodeValidation},
		"proxied TXT":        {cf.CreateDNSRecordParams{Type: "TXT", Name: "t.example.com", Content: "x", Proxied: ptr(true)}, 400, cloudflaretest.CodeNotProxiable},
		"comment too long":   {cf.CreateDNSRecordParams{Type: "TXT", Name: "t.example.com", Content: "x", Comment: strings.Repeat("c", 101)}, 400, cloudflaretest.CodeValidation},
		"tags on free plan":  {cf.CreateDNSRecordParams{Type: "TXT", Name: "t.example.com", Content: "x", Tags: []string{"owner:me"}}, 400, cloudflaretest.CodeValidation},
		"outside the zone":   {cf.CreateDNSRecordParams{Type: "TXT", Name: "t.example.org.", Content: "x"}, 0, 0},
		"CNAME to itself":    {cf.CreateDNSRecordParams{Type: "CNAME", Name: "self.example.com", Content: "self.example.com"}, 400, cloudflaretest.CodeValidation},
		"A over CNAME":       {cf.CreateDNSRecordParams{Type: "A", Name: "alias.example.com", Content: "192.0.2.1"}, 400, cloudflaretest.CodeHostHasCNAME},
		"missing type":       {cf.CreateDNSRecordParams{Name: "t.example.com", Content: "x"}, 400, cloudflaretest.CodeValidation},
		"unsupported record": {cf.CreateDNSRecordParams{Type: "HINFO", Name: "t.example.com", Content: "x"}, 400, cloudflaretest.CodeValidation},
	} {
		if name == "A over CNAME" {
			if _, err := create(cf.CreateDNSRecordParams{Type: "CNAME", Name: "alias.example.com", Content: "x.example.net"}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := create(c.p)
		if c.status == 0 {
			// A relative-looking name is expanded into the zone, like the API does.
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if st, code := codeOf(err); st != c.status || code != c.code {
			t.Errorf("%s: got status %d code %d (%v), want %d %d", name, st, code, err, c.status, c.code)
		}
	}

	// Proxied records report ttl 1 whatever was sent; AAAA is canonicalized.
	p, err := create(cf.CreateDNSRecordParams{Type: "AAAA", Name: "v6.example.com", Content: "2001:DB8:0::1", Proxied: ptr(true), TTL: 300})
	if err != nil {
		t.Fatal(err)
	}
	if p.TTL != 1 || p.Content != "2001:db8::1" || p.Proxied == nil || !*p.Proxied {
		t.Errorf("proxied AAAA = %+v", p)
	}

	// PATCH: partial update; making it identical to a sibling is refused.
	up, err := api.UpdateDNSRecord(ctx, rc, cf.UpdateDNSRecordParams{ID: a.ID, Content: "192.0.2.9", Comment: ptr("new")})
	if err != nil || up.Content != "192.0.2.9" || up.Comment != "new" || up.Name != "www.example.com" {
		t.Fatalf("update = %+v, %v", up, err)
	}
	_, err = api.UpdateDNSRecord(ctx, rc, cf.UpdateDNSRecordParams{ID: a.ID, Content: "192.0.2.2"})
	if st, code := codeOf(err); st != 400 || code != cloudflaretest.CodeRecordExists {
		t.Errorf("update to identical: %d %d %v", st, code, err)
	}
	_, err = api.UpdateDNSRecord(ctx, rc, cf.UpdateDNSRecordParams{ID: "nope", Content: "192.0.2.2"})
	if st, code := codeOf(err); st != 404 || code != cloudflaretest.CodeRecordNotFound {
		t.Errorf("update missing: %d %d %v", st, code, err)
	}
	_, _, err = api.ListDNSRecords(ctx, cf.ZoneIdentifier("0000"), cf.ListDNSRecordsParams{})
	if st, code := codeOf(err); st != 404 || code != cloudflaretest.CodeZoneNotFound {
		t.Errorf("unknown zone: %d %d %v", st, code, err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestAuth(t *testing.T) {
	s := cloudflaretest.NewServer(token)
	defer s.Close()
	zid := s.AddZone("example.com")
	ctx := context.Background()
	_, _, err := client(t, s, "wrong").ListDNSRecords(ctx, cf.ZoneIdentifier(zid), cf.ListDNSRecordsParams{})
	var authn *cf.AuthenticationError
	if !errors.As(err, &authn) || authn.ErrorCodes()[0] != cloudflaretest.CodeAuth {
		t.Fatalf("403 should be a *cloudflare.AuthenticationError with code 10000: %T %v", err, err)
	}
	s.SetAuthFailureStatus(http.StatusUnauthorized)
	_, _, err = client(t, s, "wrong").ListDNSRecords(ctx, cf.ZoneIdentifier(zid), cf.ListDNSRecordsParams{})
	var authz *cf.AuthorizationError
	if !errors.As(err, &authz) {
		t.Fatalf("401 should be a *cloudflare.AuthorizationError: %T %v", err, err)
	}
	// Rotation: the new token works, the old one stops working.
	s.SetTokens("rotated")
	if _, _, err := client(t, s, "rotated").ListDNSRecords(ctx, cf.ZoneIdentifier(zid), cf.ListDNSRecordsParams{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := client(t, s, token).ListDNSRecords(ctx, cf.ZoneIdentifier(zid), cf.ListDNSRecordsParams{}); err == nil {
		t.Fatal("revoked token still accepted")
	}
}

func TestFaults(t *testing.T) {
	s := cloudflaretest.NewServer(token)
	defer s.Close()
	zid := s.AddZone("example.com")
	api := client(t, s, token)
	ctx := context.Background()
	rc := cf.ZoneIdentifier(zid)
	recs := "/zones/" + zid + "/dns_records"

	// 429 with Retry-After and code 10429 on the wire; the client reports it as a plain string.
	f := s.Inject(cloudflaretest.Fault{Method: http.MethodGet, PathPrefix: recs, Status: 429, RetryAfter: 90 * time.Second, Times: 2})
	req, _ := http.NewRequest(http.MethodGet, s.BaseURL()+recs, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Success bool `json:"success"`
		Errors  []struct {
			Code int `json:"code"`
		} `json:"errors"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "90" || env.Success || env.Errors[0].Code != cloudflaretest.CodeRateLimited {
		t.Fatalf("429 answer: %d %q %+v", resp.StatusCode, resp.Header.Get("Retry-After"), env)
	}
	_, _, err = api.ListDNSRecords(ctx, rc, cf.ListDNSRecordsParams{})
	if err == nil || !strings.Contains(err.Error(), "exceeded available rate limit retries") {
		t.Fatalf("client error for 429: %v", err)
	}
	if f.Hits() != 2 {
		t.Errorf("fault hits = %d", f.Hits())
	}
	// Times reached: the fault is gone.
	if _, _, err := api.ListDNSRecords(ctx, rc, cf.ListDNSRecordsParams{}); err != nil {
		t.Fatalf("after the fault: %v", err)
	}

	// 5xx.
	f = s.Inject(cloudflaretest.Fault{Method: http.MethodPost, Status: 503})
	_, err = api.CreateDNSRecord(ctx, rc, cf.CreateDNSRecordParams{Type: "A", Name: "x.example.com", Content: "192.0.2.1"})
	if err == nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("503: %v", err)
	}
	f.Remove()

	// success:false with HTTP 200: cloudflare-go returns no error at all.
	f = s.Inject(cloudflaretest.Fault{Method: http.MethodGet, SuccessFalse: true})
	got, _, err := api.ListDNSRecords(ctx, rc, cf.ListDNSRecordsParams{})
	if err != nil || len(got) != 0 {
		t.Fatalf("success:false: %v %v", got, err)
	}
	f.Remove()

	// A lost response: the record is created, the client times out.
	s.Inject(cloudflaretest.Fault{Method: http.MethodPost, AfterApply: true, Latency: 3 * time.Second, Times: 1})
	_, err = api.CreateDNSRecord(ctx, rc, cf.CreateDNSRecordParams{Type: "A", Name: "lost.example.com", Content: "192.0.2.1"})
	if err == nil {
		t.Fatal("client did not time out")
	}
	if n := len(s.Find("lost.example.com", "A")); n != 1 {
		t.Fatalf("lost create left %d records", n)
	}

	// Per-path counts.
	if n := s.Count(http.MethodGet, recs); n != 4 {
		t.Errorf("GET %s counted %d:\n%s", recs, n, s.SortedCalls())
	}
	if s.Writes() != 2 || s.Calls()["POST "+cloudflaretest.BasePath+recs] != 2 {
		t.Errorf("writes = %d:\n%s", s.Writes(), s.SortedCalls())
	}
}
