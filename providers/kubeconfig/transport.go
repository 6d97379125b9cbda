package kubeconfig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

type httpRoundTripper = http.RoundTripper

// timeoutTransport bounds each request except watches.
type timeoutTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t timeoutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.timeout <= 0 || r.URL.Query().Get("watch") == "true" {
		return t.next.RoundTrip(r)
	}
	if _, ok := r.Context().Deadline(); ok {
		return t.next.RoundTrip(r)
	}
	ctx, cancel := context.WithTimeout(r.Context(), t.timeout)
	resp, err := t.next.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("request to member timed out after %s: %w", t.timeout, err)
		}
		return nil, err
	}
	resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// sameHostTransport sends requests only to the member's own server: a
// redirect to another host is not followed, so the hub's credentials, added
// to every request, never reach a host the Secret did not name.
type sameHostTransport struct {
	next http.RoundTripper
	host string // host:port of the server, lower case
}

func (t sameHostTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.EqualFold(r.URL.Host, t.host) {
		return nil, fmt.Errorf("refusing to follow a redirect from %s to another host (%s)", t.host, r.URL.Host)
	}
	return t.next.RoundTrip(r)
}
