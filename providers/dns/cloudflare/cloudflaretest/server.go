// Package cloudflaretest is a fake Cloudflare v4 API for tests, in the manner
// of net/http/httptest: NewServer starts it on a local port and BaseURL is
// what a client (github.com/cloudflare/cloudflare-go) is pointed at.
//
// It speaks the wire format the client uses for zones and DNS records: the
// envelope (success, errors[{code,message}], messages, result, result_info
// with the requested page echoed and consistent totals), paging and filters,
// bearer-token auth, and Cloudflare's error codes:
//
//	81053  an A/AAAA/CNAME record (or any record, for a new CNAME) already has the name
//	81054  a CNAME record already has the name
//	81057  an update would make the record identical to another one
//	81058  an identical record already exists (create)
//	81044  record does not exist (404)
//	7003   zone identifier not found (404)
//	10000  authentication error (403, or the status set with SetAuthFailureStatus);
//	       also 403 for writes to a zone made read-only with DenyZoneWrites
//	1004   DNS validation error (ttl, content, name, comment length, tags on free zones)
//	9004   record type cannot be proxied
//	10429  rate limited (429, with a Retry-After header) — injected with Inject
//
// Faults (status codes, latency, lost responses, success:false with HTTP 200)
// are injected per method and path, and every call is counted per path.
package cloudflaretest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Error codes the fake returns (Cloudflare's own).
const (
	CodeValidation      = 1004
	CodeZoneNotFound    = 7003
	CodeNotProxiable    = 9004
	CodeAuth            = 10000
	CodeRateLimited     = 10429
	CodeRecordNotFound  = 81044
	CodeHostHasRecord   = 81053
	CodeHostHasCNAME    = 81054
	CodeRecordExists    = 81057
	CodeIdenticalRecord = 81058
)

// BasePath is where the API lives on the server, as on api.cloudflare.com.
const BasePath = "/client/v4"

// Record is a DNS record as the fake stores it.
type Record struct {
	ID       string
	ZoneID   string
	ZoneName string
	Name     string
	Type     string
	Content  string
	TTL      int
	Proxied  bool
	Comment  string
	Tags     []string
	Created  time.Time
	Modified time.Time
}

type zone struct {
	id, name, plan string
	records        []*Record
	readOnly       bool // the token may read but not edit its records
}

// Fault is an injected failure for requests matching Method and PathPrefix.
type Fault struct {
	// Method matches the HTTP method; "" matches any.
	Method string
	// PathPrefix matches the path below /client/v4 (e.g. "/zones/<id>/dns_records"); "" matches any.
	PathPrefix string
	// Times is how many requests the fault hits; 0 means until removed.
	Times int
	// Status is the HTTP status to answer with (429, 500, 503, ...); 0
	// answers normally (useful with Latency).
	Status int
	// RetryAfter is sent as the Retry-After header of a 429.
	RetryAfter time.Duration
	// Latency delays the answer.
	Latency time.Duration
	// AfterApply performs the request first, then applies the fault: a write
	// that happened although the client saw a failure or a timeout.
	AfterApply bool
	// SuccessFalse answers HTTP 200 with success:false and an error, which
	// cloudflare-go turns into a nil error.
	SuccessFalse bool
}

// Injected is a fault in effect; Remove ends it.
type Injected struct {
	s     *Server
	fault Fault
	hits  int
}

// Remove ends the fault.
func (f *Injected) Remove() {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	for i, x := range f.s.faults {
		if x == f {
			f.s.faults = append(f.s.faults[:i], f.s.faults[i+1:]...)
			return
		}
	}
}

// Hits is the number of requests the fault has answered.
func (f *Injected) Hits() int {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return f.hits
}

// Server is a running fake.
type Server struct {
	srv *httptest.Server

	mu         sync.Mutex
	tokens     map[string]bool
	zones      []*zone
	nextID     uint64
	faults     []*Injected
	calls      map[string]int
	authStatus int
	maxComment int
	now        func() time.Time
}

// NewServer starts a fake that accepts the given API tokens.
func NewServer(tokens ...string) *Server {
	s := &Server{calls: map[string]int{}, authStatus: http.StatusForbidden, maxComment: 100, now: time.Now}
	s.SetTokens(tokens...)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// BaseURL is the API base URL to give the client.
func (s *Server) BaseURL() string { return s.srv.URL + BasePath }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// SetTokens replaces the accepted API tokens (a rotation, or a revocation).
func (s *Server) SetTokens(tokens ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]bool{}
	for _, t := range tokens {
		s.tokens[t] = true
	}
}

// DenyZoneWrites makes the token unable to edit the zone's records (a token
// scoped to other zones): writes there get 403, reads and other zones work.
func (s *Server) DenyZoneWrites(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.zoneByName(name); z != nil {
		z.readOnly = true
	}
}

// SetAuthFailureStatus sets the HTTP status of a rejected token: 403 (the
// default, as for an invalid token) or 401.
func (s *Server) SetAuthFailureStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authStatus = status
}

// SetMaxCommentLength sets the comment limit (100 on free zones).
func (s *Server) SetMaxCommentLength(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxComment = n
}

// AddZone adds a zone on the free plan and returns its id.
func (s *Server) AddZone(name string) string { return s.AddZoneWithPlan(name, "free") }

// AddZoneWithPlan adds a zone on plan ("free", "pro", "business", "enterprise").
func (s *Server) AddZoneWithPlan(name, plan string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	z := &zone{id: fmt.Sprintf("%032x", 0xf000000+s.nextID), name: strings.ToLower(name), plan: plan}
	s.zones = append(s.zones, z)
	return z.id
}

// ZoneID returns the id of the zone called name, or "".
func (s *Server) ZoneID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if z := s.zoneByName(name); z != nil {
		return z.id
	}
	return ""
}

// Seed puts a record straight into a zone, bypassing the API and its checks,
// as if someone had made it by hand. It returns the stored record.
func (s *Server) Seed(zoneName string, r Record) Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zoneByName(zoneName)
	if z == nil {
		panic("cloudflaretest: no zone " + zoneName)
	}
	s.nextID++
	now := s.now().UTC()
	r.ID = fmt.Sprintf("%032x", s.nextID)
	r.ZoneID, r.ZoneName = z.id, z.name
	r.Name = expandName(r.Name, z.name)
	if r.TTL == 0 || r.Proxied {
		r.TTL = 1
	}
	r.Created, r.Modified = now, now
	z.records = append(z.records, &r)
	return r
}

// Records returns copies of the records of a zone, in creation order.
func (s *Server) Records(zoneName string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zoneByName(zoneName)
	if z == nil {
		return nil
	}
	out := make([]Record, 0, len(z.records))
	for _, r := range z.records {
		out = append(out, *r)
	}
	return out
}

// Find returns the records of any zone with this name (case-insensitive) and
// type ("" for any type).
func (s *Server) Find(name, typ string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, z := range s.zones {
		for _, r := range z.records {
			if strings.EqualFold(r.Name, strings.TrimSuffix(name, ".")) && (typ == "" || strings.EqualFold(r.Type, typ)) {
				out = append(out, *r)
			}
		}
	}
	return out
}

// Mutate changes a stored record in place, bypassing the API (drift by hand).
func (s *Server) Mutate(id string, f func(*Record)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, z := range s.zones {
		for _, r := range z.records {
			if r.ID == id {
				f(r)
				r.Modified = s.now().UTC()
				return true
			}
		}
	}
	return false
}

// Remove deletes a stored record, bypassing the API.
func (s *Server) Remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, z := range s.zones {
		if i := indexOf(z, id); i >= 0 {
			z.records = append(z.records[:i], z.records[i+1:]...)
			return true
		}
	}
	return false
}

// Inject adds a fault; it stays until Remove (or Times hits).
func (s *Server) Inject(f Fault) *Injected {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := &Injected{s: s, fault: f}
	s.faults = append(s.faults, in)
	return in
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Calls returns the number of requests per "METHOD path" (path includes /client/v4).
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// Count sums the requests with method ("" for any) whose path below
// /client/v4 starts with pathPrefix.
func (s *Server) Count(method, pathPrefix string) int {
	n := 0
	for k, v := range s.Calls() {
		m, p, _ := strings.Cut(k, " ")
		if (method == "" || m == method) && strings.HasPrefix(strings.TrimPrefix(p, BasePath), pathPrefix) {
			n += v
		}
	}
	return n
}

// Writes is the number of POST, PUT, PATCH and DELETE requests.
func (s *Server) Writes() int {
	return s.Count(http.MethodPost, "") + s.Count(http.MethodPut, "") + s.Count(http.MethodPatch, "") + s.Count(http.MethodDelete, "")
}

// Total is the number of requests of any kind.
func (s *Server) Total() int { return s.Count("", "") }

// ResetCalls zeroes the call counters.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
}

// ---- wire format ----

type apiMessage struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type resultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

type envelope struct {
	Success    bool         `json:"success"`
	Errors     []apiMessage `json:"errors"`
	Messages   []apiMessage `json:"messages"`
	Result     any          `json:"result"`
	ResultInfo *resultInfo  `json:"result_info,omitempty"`
}

type recordJSON struct {
	ID         string         `json:"id"`
	ZoneID     string         `json:"zone_id"`
	ZoneName   string         `json:"zone_name"`
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Content    string         `json:"content"`
	Proxiable  bool           `json:"proxiable"`
	Proxied    bool           `json:"proxied"`
	TTL        int            `json:"ttl"`
	Comment    string         `json:"comment,omitempty"`
	Tags       []string       `json:"tags"`
	Settings   map[string]any `json:"settings"`
	Meta       map[string]any `json:"meta"`
	CreatedOn  time.Time      `json:"created_on"`
	ModifiedOn time.Time      `json:"modified_on"`
}

type zoneJSON struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Status      string         `json:"status"`
	Paused      bool           `json:"paused"`
	Type        string         `json:"type"`
	NameServers []string       `json:"name_servers"`
	Plan        map[string]any `json:"plan"`
	Account     map[string]any `json:"account"`
	CreatedOn   time.Time      `json:"created_on"`
	ModifiedOn  time.Time      `json:"modified_on"`
}

type recordInput struct {
	Type     *string  `json:"type"`
	Name     *string  `json:"name"`
	Content  *string  `json:"content"`
	TTL      *int     `json:"ttl"`
	Proxied  *bool    `json:"proxied"`
	Comment  *string  `json:"comment"`
	Tags     []string `json:"tags"`
	Priority *int     `json:"priority"`
}

type apiError struct {
	status int
	code   int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %d %s", e.status, e.code, e.msg) }

func errf(status, code int, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, envelope{Success: false, Errors: []apiMessage{{Code: e.code, Message: e.msg}}, Messages: []apiMessage{}, Result: nil})
}

func writeResult(w http.ResponseWriter, result any, info *resultInfo) {
	writeJSON(w, http.StatusOK, envelope{Success: true, Errors: []apiMessage{}, Messages: []apiMessage{}, Result: result, ResultInfo: info})
}

// ---- request handling ----

var (
	zonesPath   = regexp.MustCompile(`^/zones/?$`)
	zonePath    = regexp.MustCompile(`^/zones/([^/]+)$`)
	recordsPath = regexp.MustCompile(`^/zones/([^/]+)/dns_records/?$`)
	recordPath  = regexp.MustCompile(`^/zones/([^/]+)/dns_records/([^/]+)$`)
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls[r.Method+" "+r.URL.Path]++
	fault := s.matchFault(r)
	s.mu.Unlock()

	if fault != nil && !fault.AfterApply {
		if !sleep(r, fault.Latency) {
			return
		}
		if fault.Status != 0 || fault.SuccessFalse {
			writeFault(w, fault)
			return
		}
	}
	if fault != nil && fault.AfterApply {
		rec := httptest.NewRecorder()
		s.handle(rec, r)
		if !sleep(r, fault.Latency) {
			return
		}
		if fault.Status != 0 || fault.SuccessFalse {
			writeFault(w, fault)
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	s.handle(w, r)
}

func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		return false
	}
}

func writeFault(w http.ResponseWriter, f *Fault) {
	switch {
	case f.SuccessFalse:
		writeJSON(w, http.StatusOK, envelope{Success: false, Errors: []apiMessage{{Code: 1000, Message: "injected failure with HTTP 200"}}, Messages: []apiMessage{}, Result: nil})
	case f.Status == http.StatusTooManyRequests:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
		}
		writeError(w, errf(http.StatusTooManyRequests, CodeRateLimited, "Rate limited. Please wait and consider throttling your request speed"))
	default:
		writeError(w, errf(f.Status, 10002, "An unknown error has occurred"))
	}
}

// matchFault picks the first live fault for r and counts the hit. s.mu held.
func (s *Server) matchFault(r *http.Request) *Fault {
	path := strings.TrimPrefix(r.URL.Path, BasePath)
	for i, in := range s.faults {
		f := in.fault
		if f.Method != "" && f.Method != r.Method {
			continue
		}
		if f.PathPrefix != "" && !strings.HasPrefix(path, f.PathPrefix) {
			continue
		}
		in.hits++
		if f.Times > 0 && in.hits >= f.Times {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return &f
	}
	return nil
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if !strings.HasPrefix(r.URL.Path, BasePath+"/") {
		writeError(w, errf(http.StatusNotFound, 7000, "No route for that URI"))
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !s.tokens[token] {
		writeError(w, errf(s.authStatus, CodeAuth, "Authentication error"))
		return
	}
	path := strings.TrimPrefix(r.URL.Path, BasePath)
	var err *apiError
	switch {
	case path == "/user/tokens/verify" && r.Method == http.MethodGet:
		writeResult(w, map[string]string{"id": "fake-token-id", "status": "active"}, nil)
	case zonesPath.MatchString(path) && r.Method == http.MethodGet:
		err = s.listZones(w, r)
	case zonePath.MatchString(path) && r.Method == http.MethodGet:
		z := s.zoneByID(zonePath.FindStringSubmatch(path)[1])
		if z == nil {
			err = zoneNotFound(path)
			break
		}
		writeResult(w, s.zoneJSON(z), nil)
	case recordsPath.MatchString(path):
		z := s.zoneByID(recordsPath.FindStringSubmatch(path)[1])
		switch {
		case z == nil:
			err = zoneNotFound(path)
		case z.readOnly && r.Method != http.MethodGet:
			err = errf(http.StatusForbidden, CodeAuth, "Authentication error")
		case r.Method == http.MethodGet:
			err = s.listRecords(w, r, z)
		case r.Method == http.MethodPost:
			err = s.createRecord(w, r, z)
		default:
			err = errf(http.StatusMethodNotAllowed, 10405, "Method not allowed")
		}
	case recordPath.MatchString(path):
		m := recordPath.FindStringSubmatch(path)
		z := s.zoneByID(m[1])
		if z == nil {
			err = zoneNotFound(path)
			break
		}
		i := indexOf(z, m[2])
		if z.readOnly && r.Method != http.MethodGet {
			err = errf(http.StatusForbidden, CodeAuth, "Authentication error")
			break
		}
		if i < 0 {
			err = errf(http.StatusNotFound, CodeRecordNotFound, "Record does not exist.")
			break
		}
		switch r.Method {
		case http.MethodGet:
			writeResult(w, recordOut(z.records[i]), nil)
		case http.MethodPatch, http.MethodPut:
			err = s.updateRecord(w, r, z, i)
		case http.MethodDelete:
			z.records = append(z.records[:i], z.records[i+1:]...)
			writeResult(w, map[string]string{"id": m[2]}, nil)
		default:
			err = errf(http.StatusMethodNotAllowed, 10405, "Method not allowed")
		}
	default:
		err = errf(http.StatusBadRequest, 7000, "No route for that URI")
	}
	if err != nil {
		writeError(w, err)
	}
}

func zoneNotFound(path string) *apiError {
	return errf(http.StatusNotFound, CodeZoneNotFound, "Could not route to %s, perhaps your object identifier is invalid?", BasePath+path)
}

func paging(r *http.Request, def, maxPer int) (page, per int, err *apiError) {
	page, per = 1, def
	q := r.URL.Query()
	if v := q.Get("page"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 1 {
			return 0, 0, errf(http.StatusBadRequest, CodeValidation, "page must be a positive integer")
		}
		page = n
	}
	if v := q.Get("per_page"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 1 {
			return 0, 0, errf(http.StatusBadRequest, CodeValidation, "per_page must be a positive integer")
		}
		per = min(max(n, 5), maxPer)
	}
	return page, per, nil
}

func pageOf[T any](items []T, page, per int) ([]T, *resultInfo) {
	total := len(items)
	pages := (total + per - 1) / per
	start := min((page-1)*per, total)
	end := min(start+per, total)
	out := append([]T{}, items[start:end]...)
	return out, &resultInfo{Page: page, PerPage: per, Count: len(out), TotalCount: total, TotalPages: pages}
}

func (s *Server) listZones(w http.ResponseWriter, r *http.Request) *apiError {
	page, per, err := paging(r, 20, 50)
	if err != nil {
		return err
	}
	name := strings.ToLower(r.URL.Query().Get("name"))
	var out []zoneJSON
	for _, z := range s.zones {
		if name == "" || z.name == name {
			out = append(out, s.zoneJSON(z))
		}
	}
	res, info := pageOf(out, page, per)
	writeResult(w, res, info)
	return nil
}

func (s *Server) zoneJSON(z *zone) zoneJSON {
	return zoneJSON{
		ID: z.id, Name: z.name, Status: "active", Type: "full",
		NameServers: []string{"ada.ns.cloudflare.com", "bob.ns.cloudflare.com"},
		Plan:        map[string]any{"id": z.plan, "name": z.plan, "legacy_id": z.plan},
		Account:     map[string]any{"id": "fake-account", "name": "fake"},
	}
}

func (s *Server) listRecords(w http.ResponseWriter, r *http.Request, z *zone) *apiError {
	page, per, err := paging(r, 100, 5000000)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		name = q.Get("name.exact")
	}
	typ, content := q.Get("type"), q.Get("content")
	var out []recordJSON
	for _, rec := range z.records {
		if name != "" && !strings.EqualFold(rec.Name, strings.TrimSuffix(name, ".")) {
			continue
		}
		if typ != "" && !strings.EqualFold(rec.Type, typ) {
			continue
		}
		if content != "" && rec.Content != content {
			continue
		}
		out = append(out, recordOut(rec))
	}
	res, info := pageOf(out, page, per)
	writeResult(w, res, info)
	return nil
}

func recordOut(r *Record) recordJSON {
	tags := r.Tags
	if tags == nil {
		tags = []string{}
	}
	return recordJSON{
		ID: r.ID, ZoneID: r.ZoneID, ZoneName: r.ZoneName, Name: r.Name, Type: r.Type, Content: r.Content,
		Proxiable: r.Type == "A" || r.Type == "AAAA" || r.Type == "CNAME", Proxied: r.Proxied, TTL: r.TTL,
		Comment: r.Comment, Tags: tags, Settings: map[string]any{},
		Meta:      map[string]any{"auto_added": false, "managed_by_apps": false, "managed_by_argo_tunnel": false},
		CreatedOn: r.Created, ModifiedOn: r.Modified,
	}
}

func decode(r *http.Request) (recordInput, *apiError) {
	var in recordInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		return in, errf(http.StatusBadRequest, 9207, "Request body is invalid: %v", err)
	}
	return in, nil
}

func (s *Server) createRecord(w http.ResponseWriter, r *http.Request, z *zone) *apiError {
	in, err := decode(r)
	if err != nil {
		return err
	}
	rec := &Record{TTL: 1}
	if err := s.apply(rec, in, z, true); err != nil {
		return err
	}
	if err := clash(z, rec, true); err != nil {
		return err
	}
	s.nextID++
	now := s.now().UTC()
	rec.ID = fmt.Sprintf("%032x", s.nextID)
	rec.ZoneID, rec.ZoneName = z.id, z.name
	rec.Created, rec.Modified = now, now
	z.records = append(z.records, rec)
	writeResult(w, recordOut(rec), nil)
	return nil
}

func (s *Server) updateRecord(w http.ResponseWriter, r *http.Request, z *zone, i int) *apiError {
	in, err := decode(r)
	if err != nil {
		return err
	}
	next := *z.records[i]
	if err := s.apply(&next, in, z, r.Method == http.MethodPut); err != nil {
		return err
	}
	if err := clash(z, &next, false); err != nil {
		return err
	}
	next.Modified = s.now().UTC()
	*z.records[i] = next
	writeResult(w, recordOut(&next), nil)
	return nil
}

// apply validates in and writes it into rec the way Cloudflare does.
func (s *Server) apply(rec *Record, in recordInput, z *zone, full bool) *apiError {
	if in.Type != nil {
		rec.Type = strings.ToUpper(*in.Type)
	}
	if in.Name != nil {
		rec.Name = expandName(*in.Name, z.name)
	}
	if in.Content != nil {
		rec.Content = *in.Content
	}
	if in.TTL != nil {
		rec.TTL = *in.TTL
	} else if full {
		rec.TTL = 1
	}
	if in.Proxied != nil {
		rec.Proxied = *in.Proxied
	}
	if in.Comment != nil {
		rec.Comment = *in.Comment
	}
	if len(in.Tags) > 0 {
		if z.plan == "free" {
			return errf(http.StatusBadRequest, CodeValidation, "DNS Validation Error: record tags are not available on the free plan")
		}
		rec.Tags = append([]string(nil), in.Tags...)
	}
	switch rec.Type {
	case "":
		return errf(http.StatusBadRequest, CodeValidation, "DNS Validation Error: type is required")
	case "A", "AAAA":
		a, err := netip.ParseAddr(rec.Content)
		if err != nil || (rec.Type == "A") != a.Is4() || a.Is4In6() {
			return errf(http.StatusBadRequest, CodeValidation, "DNS Validation Error: content for %s record is invalid", rec.Type)
		}
		rec.Content = a.String()
	case "CNAME":
		rec.Content = strings.ToLower(strings.TrimSuffix(rec.Content, "."))
		if rec.Content == "" || strings.ContainsAny(rec.Content, " /") {
			return errf(http.StatusBadRequest, CodeValidation, "DNS Validation Error: content for CNAME record is invalid")
		}
		if rec.Content == rec.Name {
			return errf(http.StatusBadRequest, CodeValidation, "DNS Validation Error: CNAME content cannot reference itself")
		}
	case "TXT", "MX", "NS", "SRV", "CAA":
		if rec.Content == "" {
			return errf(http.StatusBadRequest, CodeValidation, "DNS Validation Error: content is required")
		}
	default:
		return errf(http.StatusBadRequest, CodeValidation, "DNS Validation Error: unsupported record type %s", rec.Type)
	}
	if rec.Name == "" || (rec.Name != z.name && !strings.HasSuffix(rec.Name, "."+z.name)) || len(rec.Name) > 253 {
		return errf(http.StatusBadRequest, CodeValidation, "DNS Validation Error: name %q is invalid for zone %s", rec.Name, z.name)
	}
	if rec.Proxied {
		if rec.Type != "A" && rec.Type != "AAAA" && rec.Type != "CNAME" {
			return errf(http.StatusBadRequest, CodeNotProxiable, "This record type cannot be proxied.")
		}
		rec.TTL = 1 // proxied records always report automatic TTL
	}
	if rec.TTL != 1 && (rec.TTL < 60 || rec.TTL > 86400) {
		return errf(http.StatusBadRequest, CodeValidation, "DNS Validation Error: TTL must be between 60 and 86400 seconds, or 1 for Automatic")
	}
	if len(rec.Comment) > s.maxComment {
		return errf(http.StatusBadRequest, CodeValidation, "DNS Validation Error: comment has %d characters, exceeding the limit of %d", len(rec.Comment), s.maxComment)
	}
	return nil
}

// clash applies Cloudflare's rules on records sharing a name.
func clash(z *zone, rec *Record, creating bool) *apiError {
	for _, o := range z.records {
		if o.ID == rec.ID || o.Name != rec.Name {
			continue
		}
		switch {
		case o.Type == rec.Type && o.Content == rec.Content:
			if creating {
				return errf(http.StatusBadRequest, CodeIdenticalRecord, "An identical record already exists.")
			}
			return errf(http.StatusBadRequest, CodeRecordExists, "Record already exists.")
		case o.Type == "CNAME":
			return errf(http.StatusBadRequest, CodeHostHasCNAME, "A CNAME record with that host already exists.")
		case rec.Type == "CNAME":
			return errf(http.StatusBadRequest, CodeHostHasRecord, "An A, AAAA, or CNAME record with that host already exists.")
		}
	}
	return nil
}

func expandName(name, zone string) string {
	name = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
	switch {
	case name == "@" || name == "":
		return zone
	case name == zone || strings.HasSuffix(name, "."+zone):
		return name
	}
	return name + "." + zone
}

func indexOf(z *zone, id string) int {
	for i, r := range z.records {
		if r.ID == id {
			return i
		}
	}
	return -1
}

func (s *Server) zoneByID(id string) *zone {
	for _, z := range s.zones {
		if z.id == id {
			return z
		}
	}
	return nil
}

func (s *Server) zoneByName(name string) *zone {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	for _, z := range s.zones {
		if z.name == name {
			return z
		}
	}
	return nil
}

// SortedCalls renders Calls as sorted lines, for test failure messages.
func (s *Server) SortedCalls() string {
	c := s.Calls()
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s x%d\n", k, c[k])
	}
	return b.String()
}
