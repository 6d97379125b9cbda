package dns

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies a provider error by what the caller should do about it.
type Kind string

const (
	// KindUnknown is anything else; treat it like KindTransient.
	KindUnknown Kind = "Unknown"
	// KindCredentialsMissing: no credentials are configured.
	KindCredentialsMissing Kind = "CredentialsMissing"
	// KindAuth: the provider rejected the credentials (401/403).
	KindAuth Kind = "Auth"
	// KindForbidden: the credentials are valid but may not act on this zone
	// or record (403 to a token the provider otherwise accepts). Only the
	// names in that zone fail; fixing it takes a token with more rights.
	KindForbidden Kind = "Forbidden"
	// KindRateLimited: the provider asks us to slow down (429); RetryAfter says for how long.
	KindRateLimited Kind = "RateLimited"
	// KindTransient: 5xx, timeouts, network errors. Retry with backoff.
	KindTransient Kind = "Transient"
	// KindNotFound: the zone or record does not exist (404).
	KindNotFound Kind = "NotFound"
	// KindInvalid: the provider refused the request as specified (validation).
	KindInvalid Kind = "Invalid"
	// KindConflict: the write clashes with an existing record (duplicate,
	// CNAME next to other records). The provider's cache is stale; re-read.
	KindConflict Kind = "Conflict"
)

// Error is the error every Provider method returns.
type Error struct {
	Kind Kind
	// Op is the provider operation, e.g. "create_record".
	Op string
	// Code is the provider's own error code, when it gave one.
	Code int
	// RetryAfter is how long the provider asked us to wait (KindRateLimited).
	RetryAfter time.Duration
	// Err is the underlying error.
	Err error
}

func (e *Error) Error() string {
	msg := string(e.Kind)
	if e.Op != "" {
		msg = e.Op + ": " + msg
	}
	if e.Code != 0 {
		msg += fmt.Sprintf(" (code %d)", e.Code)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err: "" for nil, KindUnknown for errors that
// are not *Error.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnknown
}

// RetryAfterOf returns the wait the provider asked for, or 0.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Errorf builds an *Error of kind for op.
func Errorf(kind Kind, op string, format string, args ...any) *Error {
	return &Error{Kind: kind, Op: op, Err: fmt.Errorf(format, args...)}
}
