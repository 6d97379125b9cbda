package kubeconfig

import "time"

// keepEngagedFor is how long an unavailable member keeps its cache and its
// controllers' watches. Within it, a member that comes back resumes where its
// informers were (they reconnect by themselves); multicluster-runtime v0.24.1
// keeps one goroutine per watch source per engagement until the controller
// stops, so re-engaging on every flap would grow the hub without bound. A
// longer outage is rebuilt from a fresh list.
const keepEngagedFor = 2 * time.Minute

// observation is what one check of a member found, with what came before.
type observation struct {
	rejected bool          // its identity belongs to another Secret
	healthy  bool          // answering (Ready or MissingCRDs)
	engaged  bool          // has a cluster handed to the controllers
	hidden   bool          // engaged but taken from the reconcilers
	rebuild  bool          // the cluster or its kinds are not the engaged ones
	failures int           // failed checks in a row, this one included
	down     time.Duration // how long it has been hidden
}

type action int

const (
	actNone     action = iota // nothing changes
	actTolerate               // a failed check below the threshold: keep serving, report the last state
	actHide                   // take it from the reconcilers, keep cache and watches
	actDrop                   // drop cache and watches
	actEngage                 // build a fresh cluster and hand it to the controllers
	actShow                   // hand the kept cluster back to the reconcilers
)

// decide is the member life cycle: a pure function of one observation.
func decide(o observation, threshold int) action {
	switch {
	case o.rejected:
		if o.engaged {
			return actDrop
		}
		return actNone
	case !o.healthy:
		switch {
		case !o.engaged:
			return actNone
		case !o.hidden && o.failures < threshold:
			return actTolerate
		case !o.hidden:
			return actHide
		case o.down > keepEngagedFor:
			return actDrop
		}
		return actNone
	case !o.engaged || o.rebuild:
		return actEngage
	case o.hidden:
		return actShow
	}
	return actNone
}
