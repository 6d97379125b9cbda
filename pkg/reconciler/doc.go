// Package reconciler is the reconcile core every fleethub kind shares, so the
// rules below hold the same way for WebApp, SimpleDB and DomainManager:
//
//   - conditions: the API types implement Setter; Reconciling and Stalled
//     follow Flux's meta-condition semantics (SetProgress), so kstatus, Flux
//     and Argo CD read InProgress / Failed / Current from them;
//   - status: one writer (PatchStatus) with an optimistic lock that skips
//     semantic no-ops, and one conflict policy (Result);
//   - events: one Ready-transition rule (ReadyEvent) and one batcher of
//     created/updated children (ChildEvents);
//   - children: one ownership rule (EnsureChild): fleethub writes a child only
//     if it is absent, then it creates it, or if this CR controls it, verified
//     on a live read when the cache holds no copy; anything else is a
//     ConflictError and stays untouched. One deletion helper (DeleteChild)
//     with a UID precondition that skips children already terminating;
//   - errors: what retrying cannot fix is a reconcile.TerminalError (Terminal).
//   - instrumentation: one span and one set of per-cluster reconcile metrics
//     per reconcile (Instrument).
//
// The package is named reconciler so it never shadows controller-runtime's
// reconcile package, which callers use next to it.
package reconciler
