package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	cf "github.com/cloudflare/cloudflare-go"

	"github.com/fleethub/fleethub/pkg/dns"
)

// Cloudflare error codes the provider acts on.
const (
	codeHostHasRecord   = 81053
	codeHostHasCNAME    = 81054
	codeRecordExists    = 81057
	codeIdenticalRecord = 81058
)

// classify turns what cloudflare-go returned, plus what the transport saw,
// into a *dns.Error. It knows the library's quirks:
//   - after its retries a 429 comes back as the plain string "exceeded
//     available rate limit retries", not a *RatelimitError;
//   - a 5xx comes back as a plain "received ... response (HTTP 5xx)" string;
//   - 401 and 403 come back as *AuthorizationError and *AuthenticationError
//     (pointers; note the names are swapped relative to HTTP's);
//   - HTTP 200 with success:false gives a nil error and an empty result.
func classify(op string, err error, info *callInfo) error {
	status, retryAfter, successFalse, codes, messages := info.snapshot()
	code := 0
	if len(codes) > 0 {
		code = codes[0]
	}
	if err == nil {
		if successFalse {
			return &dns.Error{Kind: dns.KindTransient, Op: op, Code: code,
				Err: fmt.Errorf("Cloudflare answered HTTP 200 with success:false: %s", strings.Join(messages, "; "))} //nolint:staticcheck // ST1005: starts with the proper noun Cloudflare
		}
		return nil
	}
	e := &dns.Error{Op: op, Code: code, Err: err}
	var (
		authz  *cf.AuthorizationError
		authn  *cf.AuthenticationError
		nf     *cf.NotFoundError
		req    *cf.RequestError
		rl     *cf.RatelimitError
		svc    *cf.ServiceError
		netErr net.Error
	)
	switch {
	case status == http.StatusTooManyRequests || errors.As(err, &rl) || strings.Contains(err.Error(), "exceeded available rate limit retries"):
		e.Kind, e.RetryAfter = dns.KindRateLimited, retryAfter
	case status == http.StatusUnauthorized || status == http.StatusForbidden || errors.As(err, &authz) || errors.As(err, &authn):
		e.Kind = dns.KindAuth
	case status == http.StatusNotFound || errors.As(err, &nf):
		e.Kind = dns.KindNotFound
	case errors.As(err, &req) || (status >= 400 && status < 500):
		switch code {
		case codeHostHasRecord, codeHostHasCNAME, codeRecordExists, codeIdenticalRecord:
			e.Kind = dns.KindConflict
		default:
			e.Kind = dns.KindInvalid
		}
	case status >= 500 || errors.As(err, &svc) || strings.Contains(err.Error(), "please try again later"):
		e.Kind = dns.KindTransient
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, &netErr) || strings.Contains(err.Error(), "HTTP request failed"):
		e.Kind = dns.KindTransient
	default:
		e.Kind = dns.KindUnknown
	}
	return e
}
