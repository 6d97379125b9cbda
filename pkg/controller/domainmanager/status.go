package domainmanager

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/conditions"
	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/pkg/reconciler"
)

// outcome is what one reconcile concluded.
type outcome int

const (
	// outcomeSynced: our record is in place as specified.
	outcomeSynced outcome = iota
	// outcomeInvalid: the spec breaks a rule the CRD should have caught.
	outcomeInvalid
	// outcomeNotAllowed: hub policy forbids the name for this member.
	outcomeNotAllowed
	// outcomeClaimConflict: another DomainManager claimed the name first.
	outcomeClaimConflict
	// outcomeUnmanaged: an unmarked record is in the way.
	outcomeUnmanaged
	// outcomeForeign: a record with another owner's marker is in the way.
	outcomeForeign
	// outcomeProviderError: the provider failed; Err says how.
	outcomeProviderError
)

// statusInput is what one reconcile saw and did.
type statusInput struct {
	Cluster string
	FQDN    string
	Outcome outcome
	// Zone is the zone the record belongs in; WroteZone is set when we hold
	// or tried to write a record there (status.zone/zoneID then follow it).
	Zone      dns.Zone
	WroteZone bool
	// Record is the record we own after this reconcile; nil when we own none.
	// When the provider failed, KeepRecordID keeps what status said.
	Record       *dns.Record
	KeepRecordID bool
	// Wrote is set when a provider write succeeded.
	Wrote bool

	Invalid error
	// Refusal is why hub policy refuses the name; PolicySource names the
	// policy entry that applied.
	Refusal      error
	PolicySource string
	// Winner is the hub claim in the way; Under is set when it is the claim
	// on the base name of an underscore name.
	Winner *dns.Claim
	Under  string
	// RetryAfter asks for a re-check sooner than the resync (a claim whose
	// holder's member is unregistered passes on after the grace period).
	RetryAfter time.Duration
	Blocker    *dns.Record
	// AdoptRefused: the DomainManager asks to adopt, hub policy does not allow it.
	AdoptRefused bool
	Err          error
	// Deleting: the DomainManager is being deleted and Err stopped it.
	Deleting bool
}

// computeStatus derives the status from what was observed. It is pure, and
// it leaves everything as it was when nothing changed, so a converged
// DomainManager is never rewritten.
func computeStatus(dm *v1alpha1.DomainManager, obs statusInput, now metav1.Time) v1alpha1.DomainManagerStatus {
	st := *dm.Status.DeepCopy()
	gen := dm.Generation
	st.ObservedGeneration = gen
	if obs.FQDN != "" {
		st.FQDN = obs.FQDN
	}
	if obs.WroteZone && obs.Zone.ID != "" {
		st.Zone, st.ZoneID = obs.Zone.Name, obs.Zone.ID
	}
	prevID := st.RecordID
	switch {
	case obs.Record != nil:
		st.RecordID = obs.Record.ID
	case !obs.KeepRecordID:
		st.RecordID = ""
	}
	if obs.Wrote || (obs.Outcome == outcomeSynced && (st.LastSyncTime == nil || st.RecordID != prevID)) {
		st.LastSyncTime = &now
	}
	ready := readyCondition(dm, obs)
	conditions.Set(&st.Conditions, ready, gen, now)
	reconciler.SetProgress(&st.Conditions, progressOf(obs), ready.Reason, ready.Message, gen, now)
	return st
}

// progressOf is where an outcome leaves the DomainManager in Flux's terms:
// Stalled when only someone else can unblock it (the spec, the hub policy or
// credentials, another claimant, a record fleethub does not own), Reconciling
// while it gets there by itself (retries, a claim passing on after the grace
// period), Done when the record is in place.
func progressOf(obs statusInput) reconciler.Progress {
	if obs.Deleting {
		return reconciler.Reconciling
	}
	switch obs.Outcome {
	case outcomeSynced:
		return reconciler.Done
	case outcomeInvalid, outcomeNotAllowed, outcomeUnmanaged, outcomeForeign:
		return reconciler.Stalled
	case outcomeClaimConflict:
		if obs.RetryAfter > 0 {
			return reconciler.Reconciling
		}
		return reconciler.Stalled
	}
	switch reason, _ := errorReason(obs.Err); reason {
	case v1alpha1.ReasonCredentialsMissing, v1alpha1.ReasonCredentialsInvalid, v1alpha1.ReasonZoneForbidden, v1alpha1.ReasonZoneNotFound, v1alpha1.ReasonRecordRejected:
		return reconciler.Stalled
	}
	return reconciler.Reconciling
}

// terminal reports whether the outcome is one no retry can fix, only a
// change elsewhere (its spec, the hub policy, the claim on the name).
func terminal(obs statusInput) bool {
	switch obs.Outcome {
	case outcomeInvalid, outcomeNotAllowed, outcomeUnmanaged, outcomeForeign:
		return true
	case outcomeClaimConflict:
		return obs.RetryAfter == 0
	}
	return false
}

func readyCondition(dm *v1alpha1.DomainManager, obs statusInput) metav1.Condition {
	name := fmt.Sprintf("%s %s", dm.Spec.RecordType, obs.FQDN)
	if obs.Deleting {
		reason, msg := errorReason(obs.Err)
		return conditions.False(v1alpha1.ConditionReady, v1alpha1.ReasonDeletionBlocked,
			fmt.Sprintf("Cannot delete %s at the DNS provider yet (%s: %s); the finalizer stays until it is deleted. To leave the record in place instead, annotate this object %s=%s.",
				name, reason, msg, v1alpha1.AnnotationDNSDeletionPolicy, v1alpha1.DNSDeletionPolicyOrphan))
	}
	switch obs.Outcome {
	case outcomeSynced:
		zone := obs.Zone.Name
		if zone == "" {
			zone = dm.Status.Zone
		}
		return conditions.True(v1alpha1.ConditionReady, v1alpha1.ReasonRecordSynced,
			fmt.Sprintf("%s → %s is in place in zone %s", name, shorten(dm.Spec.Value, 80), zone))
	case outcomeInvalid:
		return conditions.False(v1alpha1.ConditionReady, v1alpha1.ReasonInvalidSpec, obs.Invalid.Error())
	case outcomeNotAllowed:
		src := obs.PolicySource
		if src == "" {
			src = "the hub DNS policy"
		}
		return conditions.False(v1alpha1.ConditionReady, v1alpha1.ReasonDomainNotAllowed,
			fmt.Sprintf("Cluster %s may not claim %s: %v (policy: %s). Nothing was written.", obs.Cluster, obs.FQDN, obs.Refusal, src))
	case outcomeClaimConflict:
		w := obs.Winner
		if obs.Under != "" {
			return conditions.False(v1alpha1.ConditionReady, v1alpha1.ReasonConflict,
				fmt.Sprintf("%s belongs to the holder of %s: the hub's claim on it is held by %s; names under another member's name are refused",
					obs.FQDN, obs.Under, w.Holder.Describe()))
		}
		if !w.HolderMissingSince.IsZero() && obs.RetryAfter > 0 {
			return conditions.False(v1alpha1.ConditionReady, v1alpha1.ReasonConflict,
				fmt.Sprintf("%s is claimed by %s (type %s), whose cluster is unregistered since %s; the claim passes on to this one after the hub's grace period",
					obs.FQDN, w.Holder.Describe(), w.Type, w.HolderMissingSince.UTC().Format(time.RFC3339)))
		}
		if !w.HolderMissingSince.IsZero() && obs.RetryAfter > 0 {
			return conditions.False(v1alpha1.ConditionReady, v1alpha1.ReasonConflict,
				fmt.Sprintf("%s is claimed by %s (type %s), whose cluster is unregistered since %s; the claim passes on to this one after the hub's grace period",
					obs.FQDN, w.Holder.Describe(), w.Type, w.HolderMissingSince.UTC().Format(time.RFC3339)))
		}
		return conditions.False(v1alpha1.ConditionReady, v1alpha1.ReasonConflict,
			fmt.Sprintf("%s is claimed by %s (type %s): the hub holds that claim (%s), which was persisted first; this one writes nothing and takes over when that one is gone",
				obs.FQDN, w.Holder.Describe(), w.Type, w.Object))
	case outcomeForeign:
		b := obs.Blocker
		return conditions.False(v1alpha1.ConditionReady, v1alpha1.ReasonConflict,
			fmt.Sprintf("The %s record %s (id %s) belongs to %s; fleethub never changes another owner's record",
				b.Type, b.Name, b.ID, dns.DescribeOwner(b.Comment)))
	case outcomeUnmanaged:
		b := obs.Blocker
		hint := fmt.Sprintf("annotate this object %s=true to take it over (where hub policy allows adoption)", v1alpha1.AnnotationDNSAdopt)
		if obs.AdoptRefused {
			hint = "adoption was asked for, but the hub DNS policy does not allow this member to adopt records"
		}
		if !strings.EqualFold(b.Type, string(dm.Spec.RecordType)) {
			hint = "remove it by hand first (a CNAME cannot share its name with other records)"
		}
		return conditions.False(v1alpha1.ConditionReady, v1alpha1.ReasonRecordExistsUnmanaged,
			fmt.Sprintf("A %s record %s (id %s) exists without fleethub's owner marker and is left alone; %s",
				b.Type, b.Name, b.ID, hint))
	}
	reason, msg := errorReason(obs.Err)
	return conditions.False(v1alpha1.ConditionReady, reason, msg)
}

// errorReason maps a provider error to a condition reason and a message that
// stays the same from one retry to the next (so retries do not rewrite status).
func errorReason(err error) (string, string) {
	switch dns.KindOf(err) {
	case dns.KindCredentialsMissing:
		return v1alpha1.ReasonCredentialsMissing, "The hub has no usable DNS credentials: " + unwrapped(err)
	case dns.KindAuth:
		return v1alpha1.ReasonCredentialsInvalid, "The DNS provider rejected the hub's credentials: " + unwrapped(err)
	case dns.KindForbidden:
		return v1alpha1.ReasonZoneForbidden, "The hub's DNS credentials may not edit this zone or record (ask the platform team for a token with rights on it): " + unwrapped(err)
	case dns.KindRateLimited:
		return v1alpha1.ReasonRateLimited, "The DNS provider is rate-limiting the hub; retrying after its cooldown"
	case dns.KindNotFound:
		if e, ok := asDNS(err); ok && e.Op == dns.OpListZones {
			return v1alpha1.ReasonZoneNotFound, unwrapped(err)
		}
		return v1alpha1.ReasonProviderError, "The DNS provider no longer has a record fleethub expected; re-reading: " + unwrapped(err)
	case dns.KindInvalid:
		return v1alpha1.ReasonRecordRejected, "The DNS provider refused the record: " + unwrapped(err)
	}
	if err == nil {
		return v1alpha1.ReasonProviderError, "unknown error"
	}
	return v1alpha1.ReasonProviderError, "The DNS provider failed; retrying with backoff: " + err.Error()
}

func asDNS(err error) (*dns.Error, bool) {
	var e *dns.Error
	ok := errors.As(err, &e)
	return e, ok
}

func unwrapped(err error) string {
	if e, ok := asDNS(err); ok && e.Err != nil {
		return e.Err.Error()
	}
	return err.Error()
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// retryPolicy is how long to wait after each kind of outcome.
type retryPolicy struct {
	// Resync re-checks a converged (or terminally failed) DomainManager.
	Resync time.Duration
	// RateLimited is the least wait after a 429 (Cloudflare blocks for minutes).
	RateLimited time.Duration
	// Slow is the wait after an authentication failure or missing
	// credentials; a change to the credentials Secret requeues at once.
	Slow time.Duration
}

// result turns a reconcile's provider error into a controller result.
// Transient failures return the error, so the workqueue backs off
// exponentially; everything else waits a fixed time, so nothing loops hot.
func (p retryPolicy) result(err error) (ctrl.Result, error) {
	switch dns.KindOf(err) {
	case "":
		return ctrl.Result{RequeueAfter: p.Resync}, nil
	case dns.KindRateLimited:
		return ctrl.Result{RequeueAfter: max(p.RateLimited, dns.RetryAfterOf(err))}, nil
	case dns.KindAuth, dns.KindForbidden, dns.KindCredentialsMissing:
		return ctrl.Result{RequeueAfter: p.Slow}, nil
	case dns.KindInvalid:
		return ctrl.Result{RequeueAfter: p.Resync}, nil
	case dns.KindNotFound:
		if e, ok := asDNS(err); ok && e.Op == dns.OpListZones {
			return ctrl.Result{RequeueAfter: p.Resync}, nil
		}
	}
	return ctrl.Result{}, err
}

// result turns one reconcile's outcome into what controller-runtime gets.
// Terminal outcomes are a reconcile.TerminalError (no backoff retries, no hot
// loop); their re-check comes from whatever can unblock them (a claim
// released or passed on, a policy or member change re-queues the waiters) and
// from one read-only re-check per resync interval, which catches what no
// watch reports (a blocking record removed at the provider by hand).
func (r *Reconciler) result(key dns.ClaimKey, dm *v1alpha1.DomainManager, obs statusInput) (ctrl.Result, error) {
	if terminal(obs) {
		r.notify.after(r.ResyncInterval, key)
		ready := meta.FindStatusCondition(dm.Status.Conditions, v1alpha1.ConditionReady)
		return ctrl.Result{}, reconciler.Terminal(fmt.Errorf("%s: %s", ready.Reason, ready.Message))
	}
	res, err := r.policy().result(obs.Err)
	if obs.RetryAfter > 0 && err == nil && (res.RequeueAfter == 0 || obs.RetryAfter < res.RequeueAfter) {
		res.RequeueAfter = obs.RetryAfter
	}
	return res, err
}
