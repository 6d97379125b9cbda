package config

import (
	"flag"
	"fmt"
	"time"
)

// FairnessConfig bounds what one reconcile may cost (flags of issue 12).
type FairnessConfig struct {
	// ReconcileTimeout is the deadline of every reconcile: a read from a
	// cache that never syncs, or a member that stops answering, frees the
	// worker when it passes.
	ReconcileTimeout time.Duration
}

// DefaultReconcileTimeout is --reconcile-timeout's default, also used when a
// configuration built in code leaves it unset: no reconcile runs unbounded.
const DefaultReconcileTimeout = time.Minute

func registerFairnessFlags(fs *flag.FlagSet, c *FairnessConfig) {
	fs.DurationVar(&c.ReconcileTimeout, "reconcile-timeout", DefaultReconcileTimeout, "Deadline of each reconcile; when it passes the reconcile fails and is retried with backoff, and its worker is free for other members.")
}

func (c FairnessConfig) validate() []error {
	if c.ReconcileTimeout < time.Second {
		return []error{fmt.Errorf("reconcile-timeout must be at least 1s, got %s", c.ReconcileTimeout)}
	}
	return nil
}
