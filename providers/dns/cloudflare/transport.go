package cloudflare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fleethub/fleethub/pkg/dns"
)

// callInfo is what the transport saw of the HTTP exchanges of one client
// call. cloudflare-go hides most of it: after its retries a 429 is a plain
// string, a 5xx is a plain string, and HTTP 200 with success:false is no
// error at all. The provider classifies errors from this record instead.
type callInfo struct {
	op     string
	shared bool

	mu           sync.Mutex
	status       int
	retryAfter   time.Duration
	successFalse bool
	codes        []int
	messages     []string
}

type callInfoKey struct{}

func withCallInfo(ctx context.Context, info *callInfo) context.Context {
	return context.WithValue(ctx, callInfoKey{}, info)
}

func callInfoFrom(ctx context.Context) *callInfo {
	info, _ := ctx.Value(callInfoKey{}).(*callInfo)
	return info
}

func (c *callInfo) snapshot() (status int, retryAfter time.Duration, successFalse bool, codes []int, messages []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.retryAfter, c.successFalse, append([]int(nil), c.codes...), append([]string(nil), c.messages...)
}

// transport is the one HTTP path to the Cloudflare API: it enforces the
// shared rate limit (a fair share per member, see fairLimiter), counts every request in domainmanager_api_calls_total,
// and records status, Retry-After and the envelope's errors for the provider.
type transport struct {
	base    http.RoundTripper
	limiter *fairLimiter
}

type envelopeHead struct {
	Success *bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	info := callInfoFrom(ctx)
	if info == nil {
		info = &callInfo{op: "other", shared: true}
	}
	if err := t.limiter.Wait(ctx, dns.ClusterFrom(ctx)); err != nil {
		return nil, err
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		dns.CountAPICall(ctx, info.op, info.shared, err)
		return nil, err
	}
	// Read the whole body here: cloudflare-go leaves the body of a 429 or
	// 5xx it gives up on unclosed, and we need the envelope anyway.
	body, rerr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if rerr != nil {
		dns.CountAPICall(ctx, info.op, info.shared, rerr)
		return nil, rerr
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))

	var head envelopeHead
	_ = json.Unmarshal(body, &head)
	successFalse := resp.StatusCode < 400 && head.Success != nil && !*head.Success

	info.mu.Lock()
	info.status = resp.StatusCode
	info.successFalse = info.successFalse || successFalse
	info.codes, info.messages = nil, nil
	for _, e := range head.Errors {
		info.codes = append(info.codes, e.Code)
		info.messages = append(info.messages, e.Message)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		info.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	info.mu.Unlock()
	if resp.StatusCode == http.StatusTooManyRequests {
		dns.RateLimited.WithLabelValues(info.op).Inc()
	}

	var callErr error
	if resp.StatusCode >= 400 || successFalse {
		callErr = errors.New(resp.Status)
	}
	dns.CountAPICall(ctx, info.op, info.shared, callErr)
	return resp, nil
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
