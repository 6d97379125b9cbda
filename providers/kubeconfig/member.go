package kubeconfig

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/multicluster-runtime/pkg/multicluster"

	"github.com/fleethub/fleethub/pkg/membersecret"
)

// member is one registered cluster and the goroutine that looks after it.
type member struct {
	p           *Provider
	name        string
	fingerprint string
	secret      *corev1.Secret // for Events and annotations; identity only
	cancel      context.CancelFunc
	done        chan struct{}

	// Guarded by Provider.mu.
	engaged   cluster.Cluster // the cluster controllers run against, or nil
	available bool            // engaged and answering: handed to reconcilers
	kinds     map[string]bool
	state     memberState
	identity  string // UID of the member's kube-system namespace, once read
}

type memberState struct {
	State   membersecret.State
	Reason  string
	Message string
}

// Error lets engage report a failure as the state it puts the member in.
func (s *memberState) Error() string { return s.Message }

func (p *Provider) newMember(name, fingerprint string, secret *corev1.Secret) *member {
	return &member{
		p: p, name: name, fingerprint: fingerprint, done: make(chan struct{}),
		secret: &corev1.Secret{ObjectMeta: *secret.ObjectMeta.DeepCopy()},
		state:  memberState{State: membersecret.StateConnecting, Reason: "Registered", Message: "Connecting to the member"},
	}
}

// run owns one member: identify, connect, engage, probe on an interval; on
// failure take it from the reconcilers and retry with backoff, until the
// member is removed.
func (m *member) run(ctx context.Context, cfg *rest.Config, settings ClientSettings) {
	p := m.p
	defer close(m.done)
	log := p.log.WithValues("cluster", m.name)
	if p.owns(m.name) {
		m.setState(ctx, m.state)
	}

	var stopCluster context.CancelFunc
	disengage := func() {
		p.mu.Lock()
		m.engaged, m.kinds, m.available = nil, nil, false
		p.mu.Unlock()
		if stopCluster != nil {
			stopCluster()
			stopCluster = nil
		}
	}
	defer disengage()

	dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(cfg))
	if err != nil {
		m.setState(ctx, memberState{State: membersecret.StateRejected, Reason: ReasonMalformedKubeconfig, Message: err.Error()})
		return
	}
	core, err := corev1client.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		m.setState(ctx, memberState{State: membersecret.StateRejected, Reason: ReasonMalformedKubeconfig, Message: err.Error()})
		return
	}
	backoff := m.newBackoff()
	missing := true  // until a probe finds every kind
	failures := 0    // failed checks in a row
	rebuild := false // the cluster behind the Secret changed; kept until rebuilt
	var downSince time.Time
	for {
		if !p.owns(m.name) {
			// Another replica's shard: let go of it (the coordinator
			// releases its fence) and look again shortly, so a replica
			// that leaves hands its members over within one interval.
			if m.current() != nil {
				log.Info("Member now served by another replica; letting it go")
				disengage()
				p.forget(m.name)
			}
			failures, downSince, missing, rebuild = 0, time.Time{}, true, false
			select {
			case <-ctx.Done():
				return
			case <-time.After(p.opts.OwnershipInterval):
			}
			continue
		}
		st, kinds, changed := m.check(ctx, dc, core, cfg, missing)
		if ctx.Err() != nil {
			return
		}
		rebuild = rebuild || changed
		healthy := st.State == membersecret.StateReady || st.State == membersecret.StateMissingCRDs
		if st.State != membersecret.StateRejected {
			missing = st.State != membersecret.StateReady
		}
		engaged := m.current() != nil
		if !healthy && st.State != membersecret.StateRejected {
			failures++
		}
		var down time.Duration
		if !downSince.IsZero() {
			down = time.Since(downSince)
		}
		switch decide(observation{
			rejected: st.State == membersecret.StateRejected, healthy: healthy, engaged: engaged, hidden: !downSince.IsZero(),
			rebuild: rebuild || !sameKinds(m.kindsOf(), kinds), failures: failures, down: down,
		}, p.opts.FailureThreshold) {
		case actDrop:
			// A duplicate (nothing runs against it; it is checked again, one
			// identity read, in case the holder goes away), or a long outage.
			if engaged && st.State != membersecret.StateRejected {
				log.Info("Member unavailable for long; dropping its cache", "since", downSince.UTC().Format(time.RFC3339))
			}
			disengage()
			if st.State == membersecret.StateRejected {
				failures, downSince = 0, time.Time{}
			}
		case actTolerate:
			log.Info("Member probe failed; still engaged", "failures", failures, "threshold", p.opts.FailureThreshold, "reason", st.Reason, "message", st.Message)
			st = m.stateOf()
		case actHide:
			log.Info("Member unavailable; taken from the reconcilers until it recovers", "state", st.State, "reason", st.Reason)
			downSince = time.Now()
			m.setAvailable(false)
		case actEngage:
			// New connection, a rebuilt cluster, or CRDs came or went:
			// (re)build the member's cluster so every kind it now has
			// starts from a fresh cache.
			disengage()
			failures, downSince, rebuild = 0, time.Time{}, false
			cancel, err := m.engage(ctx, cfg, kinds)
			if err != nil {
				var est *memberState
				if errors.As(err, &est) {
					st = *est
				} else {
					st = memberState{State: membersecret.StateUnreachable, Reason: "EngageFailed", Message: err.Error()}
				}
				healthy = false
				break
			}
			stopCluster = cancel
			log.Info("Member engaged", "kinds", kindList(kinds))
		case actShow:
			log.Info("Member available again", "unavailableFor", down.Round(time.Second).String())
			m.setAvailable(true)
			failures, downSince = 0, time.Time{}
		case actNone:
			if healthy {
				failures = 0
			}
		}
		m.setState(ctx, st)

		delay := p.opts.ProbeInterval
		if healthy || st.State == membersecret.StateRejected {
			backoff = m.newBackoff()
		} else {
			// Back off, but never probe less often than a healthy member:
			// a member that comes back must be re-engaged within one interval.
			delay = min(backoff.Step(), p.opts.ProbeInterval)
			log.Info("Member not available; retrying", "state", st.State, "reason", st.Reason, "message", st.Message, "retryIn", delay.Round(time.Millisecond).String())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// check identifies the member and, unless its identity belongs to another
// Secret, installs missing CRDs (if configured) and probes it. changed says
// the cluster behind the Secret is not the one recorded on it.
func (m *member) check(ctx context.Context, dc *discovery.DiscoveryClient, core corev1client.CoreV1Interface, cfg *rest.Config, missing bool) (memberState, map[string]bool, bool) {
	p := m.p
	id, st, ok := m.readIdentity(ctx, core)
	if !ok {
		return st, nil, false
	}
	holder, err := m.claim(ctx, id)
	if err != nil {
		return memberState{State: membersecret.StateUnreachable, Reason: "IdentityCheckFailed", Message: err.Error()}, nil, false
	}
	if holder != "" {
		return memberState{State: membersecret.StateRejected, Reason: membersecret.ReasonDuplicateCluster,
			Message: fmt.Sprintf("this cluster (namespace %s UID %s) is already registered as Secret %s/%s; this Secret is not used: delete it, or delete the other one", membersecret.IdentityNamespace, id, p.opts.Namespace, holder)}, nil, false
	}
	changed := m.recordIdentity(ctx, id)
	p.mu.Lock()
	if m.identity != "" && m.identity != id {
		changed = true
	}
	m.identity = id
	p.mu.Unlock()

	if missing && p.opts.InstallCRDs != nil {
		ictx, cancel := context.WithTimeout(ctx, p.opts.EngageTimeout)
		if err := p.opts.InstallCRDs(ictx, cfg); err != nil && ctx.Err() == nil {
			p.log.Error(err, "Installing fleethub CRDs in the member failed", "cluster", m.name)
			p.recorder.Eventf(m.secret, nil, corev1.EventTypeWarning, "InstallCRDsFailed", "InstallCRDs", "%s", truncate(err.Error(), 900))
		}
		cancel()
	}
	st, kinds := m.probe(ctx, dc)
	return st, kinds, changed
}

// classify turns a failed request to a member into its state.
func classify(err error, timeout time.Duration) memberState {
	switch {
	case apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err):
		return memberState{State: membersecret.StateUnauthorized, Reason: "CredentialsRefused", Message: "the member refused the hub's credentials: " + err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return memberState{State: membersecret.StateUnreachable, Reason: "Timeout", Message: fmt.Sprintf("the member apiserver did not answer within %s", timeout)}
	}
	return memberState{State: membersecret.StateUnreachable, Reason: "ConnectionFailed", Message: err.Error()}
}

func (m *member) stateOf() memberState {
	p := m.p
	p.mu.RLock()
	defer p.mu.RUnlock()
	return m.state
}

func (m *member) setAvailable(ok bool) {
	p := m.p
	p.mu.Lock()
	m.available = ok
	p.mu.Unlock()
}

func (m *member) newBackoff() wait.Backoff {
	p := m.p
	return wait.Backoff{Duration: p.opts.InitialBackoff, Factor: 2, Jitter: 0.1, Steps: 64, Cap: p.opts.MaxBackoff}
}

// probe asks the member for its version and for the fleethub kinds it serves,
// within the engage deadline, and classifies what went wrong.
func (m *member) probe(ctx context.Context, dc *discovery.DiscoveryClient) (memberState, map[string]bool) {
	p := m.p
	pctx, cancel := context.WithTimeout(ctx, p.opts.EngageTimeout)
	defer cancel()
	type result struct {
		kinds map[string]bool
		err   error
	}
	ch := make(chan result, 1)
	go func() {
		if _, err := dc.ServerVersion(); err != nil {
			ch <- result{err: err}
			return
		}
		kinds := map[string]bool{}
		list, err := dc.ServerResourcesForGroupVersion(p.opts.GroupVersion)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			ch <- result{err: err}
			return
		default:
			for _, r := range list.APIResources {
				if kind, ok := p.opts.Kinds[r.Name]; ok {
					kinds[kind] = true
				}
			}
		}
		ch <- result{kinds: kinds}
	}()
	var res result
	select {
	case res = <-ch:
	case <-pctx.Done():
		if ctx.Err() != nil {
			return memberState{}, nil
		}
		return memberState{State: membersecret.StateUnreachable, Reason: "Timeout", Message: fmt.Sprintf("the member apiserver did not answer within %s", p.opts.EngageTimeout)}, nil
	}
	if res.err != nil {
		return classify(res.err, p.opts.EngageTimeout), nil
	}
	var missing []string
	for _, kind := range p.opts.Kinds {
		if !res.kinds[kind] {
			missing = append(missing, kind)
		}
	}
	if len(missing) > 0 {
		return memberState{State: membersecret.StateMissingCRDs, Reason: "CRDsNotInstalled",
			Message: fmt.Sprintf("engaged for %s; not installed: %s", orNone(kindList(res.kinds)), strings.Join(slices.Sorted(slices.Values(missing)), ","))}, res.kinds
	}
	return memberState{State: membersecret.StateReady, Reason: "Connected", Message: "engaged for " + kindList(res.kinds)}, res.kinds
}

// engage builds a fresh cluster for the member, starts its cache and hands it
// to the controllers, all within the engage deadline.
func (m *member) engage(ctx context.Context, cfg *rest.Config, kinds map[string]bool) (context.CancelFunc, error) {
	p := m.p
	cl, err := cluster.New(cfg, p.opts.ClusterOptions...)
	if err != nil {
		return nil, fmt.Errorf("building the member client: %w", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		if err := cl.Start(cctx); err != nil && cctx.Err() == nil {
			p.log.Error(err, "Member cache stopped", "cluster", m.name)
		}
	}()
	actx, acancel := context.WithTimeout(cctx, p.opts.EngageTimeout)
	defer acancel()
	// Every informer the engaged kinds' controllers read is started and
	// synced before they get the member: a reconcile never waits on a cache
	// that cannot fill (say the hub may not list a kind there), so such a
	// member holds no worker while the others keep converging.
	if err := m.syncInformers(actx, cl, kinds); err != nil {
		cancel()
		return nil, err
	}
	if p.opts.OnEngage != nil {
		if err := p.opts.OnEngage(actx, m.name, cl); err != nil {
			cancel()
			return nil, err
		}
	}
	// Visible to Get and KindFilter before controllers start watching: their
	// first reconciles look the cluster up, and a miss would drop the request.
	p.mu.Lock()
	m.engaged, m.kinds, m.available = cl, kinds, true
	p.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- p.aware.Engage(cctx, multicluster.ClusterName(m.name), cl) }()
	select {
	case err = <-done:
	case <-actx.Done():
		err = fmt.Errorf("controllers did not start within %s", p.opts.EngageTimeout)
	}
	if err != nil {
		p.mu.Lock()
		m.engaged, m.kinds, m.available = nil, nil, false
		p.mu.Unlock()
		cancel()
		return nil, fmt.Errorf("engaging controllers: %w", err)
	}
	return cancel, nil
}

// syncInformers starts the informers of the engaged kinds and waits, within
// ctx, until all have synced. On failure it names the first kind whose list
// fails and why, from one live list of at most one item.
func (m *member) syncInformers(ctx context.Context, cl cluster.Cluster, kinds map[string]bool) error {
	p := m.p
	type started struct {
		obj client.Object
		inf crcache.Informer
	}
	var all []started
	seen := map[string]bool{}
	for _, kind := range sortedKinds(kinds) {
		for _, obj := range p.opts.Informers[kind] {
			gvk, err := apiutil.GVKForObject(obj, cl.GetScheme())
			if err != nil {
				return fmt.Errorf("informer for %T: %w", obj, err)
			}
			if seen[gvk.String()] {
				continue
			}
			seen[gvk.String()] = true
			inf, err := cl.GetCache().GetInformer(ctx, obj, crcache.BlockUntilSynced(false))
			if err != nil {
				return fmt.Errorf("starting the %s informer: %w", gvk.Kind, err)
			}
			all = append(all, started{obj: obj, inf: inf})
		}
	}
	if cl.GetCache().WaitForCacheSync(ctx) {
		return nil
	}
	for _, s := range all {
		if s.inf.HasSynced() {
			continue
		}
		gvk, _ := apiutil.GVKForObject(s.obj, cl.GetScheme())
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.EngageTimeout)
		err := cl.GetAPIReader().List(lctx, list, client.Limit(1))
		cancel()
		if err == nil {
			err = fmt.Errorf("no error listing it directly")
		}
		st := classify(err, p.opts.EngageTimeout)
		st.Reason = "InformerNotSynced"
		st.Message = fmt.Sprintf("the %s cache did not sync within %s, so no controller is handed the member: %v", gvk.Kind, p.opts.EngageTimeout, err)
		return &st
	}
	return &memberState{State: membersecret.StateUnreachable, Reason: "InformerNotSynced", Message: fmt.Sprintf("the member cache did not sync within %s", p.opts.EngageTimeout)}
}

func (m *member) current() cluster.Cluster {
	p := m.p
	p.mu.RLock()
	defer p.mu.RUnlock()
	return m.engaged
}

func (m *member) kindsOf() map[string]bool {
	p := m.p
	p.mu.RLock()
	defer p.mu.RUnlock()
	return m.kinds
}

// setState records a member's state. Only a change is published: annotations
// on its Secret, an Event, and the metrics.
func (m *member) setState(ctx context.Context, st memberState) {
	p := m.p
	p.mu.Lock()
	if p.members[m.name] != m {
		p.mu.Unlock()
		return // removed meanwhile; its successor reports for it
	}
	prev := m.state
	m.state = st
	kinds := kindList(m.kinds)
	p.mu.Unlock()
	p.metrics.set(m.name, st.State)

	want := map[string]string{
		membersecret.AnnotationState:   string(st.State),
		membersecret.AnnotationReason:  st.Reason,
		membersecret.AnnotationMessage: truncate(st.Message, 1024),
		membersecret.AnnotationKinds:   kinds,
	}
	if p.opts.ReplicaID != "" {
		want[membersecret.AnnotationReplica] = p.opts.ReplicaID
	}
	cur := &corev1.Secret{}
	if err := p.hub.Get(ctx, client.ObjectKeyFromObject(m.secret), cur); err != nil {
		return
	}
	changed := false
	for k, v := range want {
		if cur.Annotations[k] != v {
			changed = true
		}
	}
	if !changed {
		return
	}
	if prev.State != st.State || cur.Annotations[membersecret.AnnotationLastTransition] == "" || cur.Annotations[membersecret.AnnotationState] != string(st.State) {
		want[membersecret.AnnotationLastTransition] = time.Now().UTC().Format(time.RFC3339)
	}
	orig := cur.DeepCopy()
	if cur.Annotations == nil {
		cur.Annotations = map[string]string{}
	}
	for k, v := range want {
		cur.Annotations[k] = v
	}
	if err := p.hub.Patch(ctx, cur, client.MergeFrom(orig)); err != nil && !apierrors.IsNotFound(err) {
		p.log.Error(err, "Writing member state annotations failed", "cluster", m.name)
	}
	if orig.Annotations[membersecret.AnnotationState] != string(st.State) {
		typ := corev1.EventTypeNormal
		if st.State != membersecret.StateReady && st.State != membersecret.StateConnecting {
			typ = corev1.EventTypeWarning
		}
		p.recorder.Eventf(m.secret, nil, typ, string(st.State), "Probe", "%s: %s", st.Reason, truncate(st.Message, 900))
	}
}

func sameKinds(a, b map[string]bool) bool { return kindList(a) == kindList(b) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func orNone(s string) string {
	if s == "" {
		return "no kinds"
	}
	return s
}
