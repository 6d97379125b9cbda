package fleettest

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// RequestCounter counts the requests the hub sends to each member, at the
// HTTP transport, so tests can assert exact figures such as zero writes.
type RequestCounter struct {
	mu     sync.Mutex
	counts map[string]map[string]int // cluster → "VERB resource-path" → n
}

// NewRequestCounter returns an empty counter.
func NewRequestCounter() *RequestCounter {
	return &RequestCounter{counts: map[string]map[string]int{}}
}

type countingTransport struct {
	c       *RequestCounter
	cluster string
	next    http.RoundTripper
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.c.add(t.cluster, r.Method+" "+r.URL.Path)
	return t.next.RoundTrip(r)
}

func (c *RequestCounter) wrap(cluster string, rt http.RoundTripper) http.RoundTripper {
	return countingTransport{c: c, cluster: cluster, next: rt}
}

func (c *RequestCounter) add(cluster, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts[cluster] == nil {
		c.counts[cluster] = map[string]int{}
	}
	c.counts[cluster][key]++
}

// Snapshot copies the current counts.
func (c *RequestCounter) Snapshot() map[string]map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]map[string]int{}
	for cl, m := range c.counts {
		out[cl] = map[string]int{}
		for k, v := range m {
			out[cl][k] = v
		}
	}
	return out
}

// Writes lists the write requests (create, update, patch, delete) sent to
// cluster since the snapshot before, as "VERB path xN".
func (c *RequestCounter) Writes(before map[string]map[string]int, cluster string) []string {
	now := c.Snapshot()
	var out []string
	for k, v := range now[cluster] {
		d := v - before[cluster][k]
		if d == 0 {
			continue
		}
		verb := strings.SplitN(k, " ", 2)[0]
		switch verb {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			out = append(out, fmt.Sprintf("%s x%d", k, d))
		}
	}
	sort.Strings(out)
	return out
}

// Total is the number of requests of any verb sent to cluster since before.
func (c *RequestCounter) Total(before map[string]map[string]int, cluster string) int {
	n := 0
	for k, v := range c.Snapshot()[cluster] {
		n += v - before[cluster][k]
	}
	return n
}
