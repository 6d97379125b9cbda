package cloudflare

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// fairLimiter shares one request budget (a token bucket) fairly between the
// members calling through it. Waiting requests queue per member and each
// token goes to the next member round-robin, so a member with a thousand
// DomainManagers waiting gets one request per turn like a member with one:
// it can't consume the fleet's DNS budget, yet a member alone gets all of it.
// Hub-wide calls (no member in the context) queue as a member of their own.
type fairLimiter struct {
	bucket *rate.Limiter

	mu      sync.Mutex
	waiting map[string][]*waiter
	ring    []string // members with waiting requests, in turn order
	next    int
	running bool // a dispatcher goroutine is handing out tokens
}

type waiter struct {
	granted chan struct{}
	gone    bool // its context ended before its turn
}

func newFairLimiter(limit rate.Limit, burst int) *fairLimiter {
	return &fairLimiter{bucket: rate.NewLimiter(limit, burst), waiting: map[string][]*waiter{}}
}

// setLimit changes the budget; waiting requests are served at the new rate.
func (l *fairLimiter) setLimit(limit rate.Limit, burst int) {
	l.bucket.SetLimit(limit)
	l.bucket.SetBurst(burst)
}

// Wait blocks until member's request may go, or ctx ends.
func (l *fairLimiter) Wait(ctx context.Context, member string) error {
	w := &waiter{granted: make(chan struct{})}
	l.mu.Lock()
	if len(l.waiting[member]) == 0 {
		// Joins the end of the turn order (just before the cursor).
		l.ring = append(l.ring, "")
		copy(l.ring[l.next+1:], l.ring[l.next:])
		l.ring[l.next] = member
		l.next = (l.next + 1) % len(l.ring)
	}
	l.waiting[member] = append(l.waiting[member], w)
	if !l.running {
		l.running = true
		go l.dispatch()
	}
	l.mu.Unlock()

	select {
	case <-w.granted:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		select {
		case <-w.granted:
			return nil // granted meanwhile: use the token
		default:
		}
		w.gone = true
		return ctx.Err()
	}
}

// dispatch hands out tokens while anyone waits, then exits.
func (l *fairLimiter) dispatch() {
	for {
		l.mu.Lock()
		if len(l.ring) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		// Wait for the token first, choose whose it is after: the turn
		// goes to whoever is next when it is there. (If every waiter gave
		// up meanwhile the token is spent unused; that is rare and only
		// slows the next caller by one token.)
		time.Sleep(l.bucket.Reserve().Delay())
		l.mu.Lock()
		if w := l.take(); w != nil {
			close(w.granted)
		}
		l.mu.Unlock()
	}
}

// take removes and returns the next live waiter in turn order, or nil.
func (l *fairLimiter) take() *waiter {
	for len(l.ring) > 0 {
		if l.next >= len(l.ring) {
			l.next = 0
		}
		member := l.ring[l.next]
		q := l.waiting[member]
		w := q[0]
		q[0] = nil
		q = q[1:]
		if len(q) == 0 {
			delete(l.waiting, member)
			l.ring = append(l.ring[:l.next], l.ring[l.next+1:]...)
		} else {
			l.waiting[member] = q
			l.next++
		}
		if !w.gone {
			return w
		}
	}
	return nil
}
