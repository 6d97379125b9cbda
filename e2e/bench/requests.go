package bench

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Verbs are the Kubernetes API verbs the request counter tells apart, in the
// order reports list them.
var Verbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "discovery"}

// writeVerbs change state in a member.
var writeVerbs = map[string]bool{"create": true, "update": true, "patch": true, "delete": true, "deletecollection": true}

// Requests counts what the hub sends to each member at the HTTP transport,
// by Kubernetes verb and resource (as the apiserver's audit log would name
// them), so a window of steady state can be reported as requests per verb.
type Requests struct {
	mu     sync.Mutex
	counts map[string]map[RequestKey]int // cluster → verb/resource → n
}

// RequestKey is a verb and the resource it was sent for ("deployments",
// "webapps/status", "" for discovery).
type RequestKey struct {
	Verb     string
	Resource string
}

// NewRequests returns an empty counter.
func NewRequests() *Requests { return &Requests{counts: map[string]map[RequestKey]int{}} }

// Wrap returns a transport counting into r for cluster.
func (r *Requests) Wrap(cluster string, next http.RoundTripper) http.RoundTripper {
	return countingTransport{r: r, cluster: cluster, next: next}
}

type countingTransport struct {
	r       *Requests
	cluster string
	next    http.RoundTripper
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.r.add(t.cluster, Classify(req.Method, req.URL.Path, req.URL.Query().Get("watch")))
	return t.next.RoundTrip(req)
}

func (r *Requests) add(cluster string, k RequestKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.counts[cluster]
	if m == nil {
		m = map[RequestKey]int{}
		r.counts[cluster] = m
	}
	m[k]++
}

// RequestSnapshot is a copy of the counts at one moment.
type RequestSnapshot map[string]map[RequestKey]int

// Snapshot copies the current counts.
func (r *Requests) Snapshot() RequestSnapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := RequestSnapshot{}
	for c, m := range r.counts {
		out[c] = make(map[RequestKey]int, len(m))
		for k, v := range m {
			out[c][k] = v
		}
	}
	return out
}

// Since is what was counted between before and s, per cluster.
func (s RequestSnapshot) Since(before RequestSnapshot) RequestSnapshot {
	out := RequestSnapshot{}
	for c, m := range s {
		for k, v := range m {
			if d := v - before[c][k]; d != 0 {
				if out[c] == nil {
					out[c] = map[RequestKey]int{}
				}
				out[c][k] = d
			}
		}
	}
	return out
}

// ByVerb sums the counts per verb over the given clusters (all when none).
func (s RequestSnapshot) ByVerb(clusters ...string) map[string]int {
	out := map[string]int{}
	for c, m := range s {
		if len(clusters) > 0 && !slices.Contains(clusters, c) {
			continue
		}
		for k, v := range m {
			out[k.Verb] += v
		}
	}
	return out
}

// Writes lists the write requests as "verb resource xN", sorted.
func (s RequestSnapshot) Writes() []string {
	sum := map[RequestKey]int{}
	for _, m := range s {
		for k, v := range m {
			if writeVerbs[k.Verb] {
				sum[k] += v
			}
		}
	}
	var out []string
	for k, v := range sum {
		out = append(out, k.Verb+" "+k.Resource+" x"+strconv.Itoa(v))
	}
	sort.Strings(out)
	return out
}

// Detail lists every verb and resource as "verb resource xN", most first.
func (s RequestSnapshot) Detail() []string {
	sum := map[RequestKey]int{}
	for _, m := range s {
		for k, v := range m {
			sum[k] += v
		}
	}
	keys := make([]RequestKey, 0, len(sum))
	for k := range sum {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if sum[keys[i]] != sum[keys[j]] {
			return sum[keys[i]] > sum[keys[j]]
		}
		return keys[i].Verb+keys[i].Resource < keys[j].Verb+keys[j].Resource
	})
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		name := k.Verb
		if k.Resource != "" {
			name += " " + k.Resource
		}
		out = append(out, name+" x"+strconv.Itoa(sum[k]))
	}
	return out
}

// WriteCount is the number of write requests.
func (s RequestSnapshot) WriteCount() int {
	n := 0
	for _, m := range s {
		for k, v := range m {
			if writeVerbs[k.Verb] {
				n += v
			}
		}
	}
	return n
}

// Total is the number of requests of any verb.
func (s RequestSnapshot) Total() int {
	n := 0
	for _, m := range s {
		for _, v := range m {
			n += v
		}
	}
	return n
}

// Classify names the Kubernetes verb and resource of a request the way the
// apiserver does: a GET of a collection is a list, a GET with watch=true (or
// under the legacy /watch/ prefix) a watch, a DELETE of a collection a
// deletecollection. Paths outside /api and /apis (/version, /openapi) and
// the group listings themselves are discovery.
func Classify(method, path, watchParam string) RequestKey {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var rest []string
	switch {
	case len(segs) >= 2 && segs[0] == "api":
		rest = segs[2:] // api/v1/...
	case len(segs) >= 3 && segs[0] == "apis":
		rest = segs[3:] // apis/group/version/...
	}
	if len(rest) == 0 {
		return RequestKey{Verb: "discovery"}
	}
	watch := watchParam == "true" || watchParam == "1"
	if rest[0] == "watch" {
		watch, rest = true, rest[1:]
	}
	// namespaces/<ns>/<resource>/... is namespaced; namespaces[/<name>] is
	// the namespaces resource itself.
	if len(rest) >= 3 && rest[0] == "namespaces" {
		rest = rest[2:]
	}
	resource := rest[0]
	named := len(rest) >= 2
	if len(rest) >= 3 {
		resource += "/" + rest[2]
	}
	var verb string
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watch:
			verb = "watch"
		case named:
			verb = "get"
		default:
			verb = "list"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
		if !named {
			verb = "deletecollection"
		}
	default:
		verb = strings.ToLower(method)
	}
	return RequestKey{Verb: verb, Resource: resource}
}
