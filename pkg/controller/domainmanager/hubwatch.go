package domainmanager

import (
	"context"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/dns"
	"github.com/fleethub/fleethub/pkg/membersecret"
)

// hubWatcher watches the hub namespace (already in the hub's cache):
//   - the DNS credentials Secret, whose data goes to the one shared provider
//     client on every change (a rotated token is used at once, and every
//     DomainManager is re-queued);
//   - member kubeconfig Secrets: a member registered, unregistered or given
//     its identity re-queues every DomainManager (claims may pass on); a
//     Secret still carrying the retired per-member policy annotation gets a
//     Warning Event saying where policy lives now;
//   - the DNS policy ConfigMap (a change re-queues every DomainManager) and
//     the claim ConfigMaps (a change re-queues the DomainManagers waiting on
//     that name, also when another hub replica made it).
type hubWatcher struct {
	r        *Reconciler
	client   client.Client
	recorder events.EventRecorder

	mu      sync.Mutex
	members map[string]memberSeen // member Secret → what was seen last
	policy  *string               // policy document last seen (nil: absent)
	seen    bool                  // policy read at least once
}

type memberSeen struct {
	identity string
	legacy   string // value of the retired annotation, "" when absent
}

func (w *hubWatcher) setup(mgr manager.Manager, skipNameValidation *bool) error {
	w.client = mgr.GetClient()
	w.recorder = mgr.GetEventRecorder("fleethub")
	w.members = map[string]memberSeen{}
	ns := w.r.HubNamespace
	inHub := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == ns })
	opts := controller.Options{SkipNameValidation: skipNameValidation, MaxConcurrentReconciles: 1}
	err := ctrl.NewControllerManagedBy(mgr).
		Named("dns-hub-secrets").
		For(&corev1.Secret{}, builder.WithPredicates(inHub)).
		// Read the credentials once at start even if their Secret does not
		// exist (then no event would ever name it).
		WatchesRawSource(source.Func(func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
			q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: w.r.CredentialsSecret}})
			return nil
		})).
		WithOptions(opts).
		Complete(w)
	if err != nil {
		return err
	}
	ours := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetNamespace() == ns && (o.GetName() == w.r.PolicyConfigMap || o.GetLabels()[LabelDNSClaim] == "true")
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("dns-hub-configmaps").
		For(&corev1.ConfigMap{}, builder.WithPredicates(ours)).
		WithOptions(opts).
		Complete(reconcile.Func(w.reconcileConfigMap))
}

func (w *hubWatcher) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	s := &corev1.Secret{}
	err := w.client.Get(ctx, req.NamespacedName, s)
	if err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, err
	}
	exists := err == nil

	if req.Name == w.r.CredentialsSecret {
		setter, ok := w.r.Provider.(dns.CredentialsSetter)
		if !ok {
			return reconcile.Result{}, nil
		}
		var data map[string][]byte
		if exists {
			data = s.Data
			if data == nil {
				data = map[string][]byte{}
			}
		}
		if setter.SetCredentials(data) {
			ctrl.LoggerFrom(ctx).Info("DNS credentials changed; re-checking every DomainManager", "secret", req.String(), "present", exists)
			w.r.requeueAll()
		}
		return reconcile.Result{}, nil
	}

	member := exists && s.Labels[membersecret.Label] == "true"
	var now memberSeen
	if member {
		now = memberSeen{identity: secretIdentity(s), legacy: s.Annotations[v1alpha1.AnnotationDNSAllowedSuffixes]}
	}
	w.mu.Lock()
	prev, known := w.members[req.Name]
	if member {
		w.members[req.Name] = now
	} else {
		delete(w.members, req.Name)
	}
	w.mu.Unlock()

	if member && now.legacy != "" && (!known || prev.legacy != now.legacy) {
		msg := "Annotation " + v1alpha1.AnnotationDNSAllowedSuffixes + " is ignored: DNS policy now lives in the hub ConfigMap " +
			w.r.HubNamespace + "/" + w.r.PolicyConfigMap + " (key " + PolicyKey + "), which member-Secret writers cannot change"
		ctrl.LoggerFrom(ctx).Info(msg, "secret", req.String())
		if w.recorder != nil {
			w.recorder.Eventf(s, nil, corev1.EventTypeWarning, "DNSPolicyAnnotationIgnored", "Policy", "%s", msg)
		}
	}
	if known != member || (member && prev.identity != now.identity) {
		ctrl.LoggerFrom(ctx).V(1).Info("Member registration changed; re-checking every DomainManager", "cluster", req.Name, "registered", member)
		w.r.requeueAll()
	}
	return reconcile.Result{}, nil
}

func (w *hubWatcher) reconcileConfigMap(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	if strings.HasPrefix(req.Name, claimPrefix) && req.Name != w.r.PolicyConfigMap {
		w.r.notify.add(w.r.index.waitersOfObject(req.Name)...)
		return reconcile.Result{}, nil
	}
	cm := &corev1.ConfigMap{}
	err := w.client.Get(ctx, req.NamespacedName, cm)
	if err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, err
	}
	var doc *string
	if err == nil {
		v := cm.Data[PolicyKey]
		doc = &v
		if _, perr := dns.ParsePolicy([]byte(v)); perr != nil {
			msg := "The DNS policy cannot be parsed; every DomainManager is refused until it is fixed: " + perr.Error()
			ctrl.LoggerFrom(ctx).Info(msg, "configmap", req.String())
			if w.recorder != nil {
				w.recorder.Eventf(cm, nil, corev1.EventTypeWarning, "InvalidDNSPolicy", "Policy", "%s", msg)
			}
		}
	}
	w.mu.Lock()
	changed := !w.seen || !samePtr(w.policy, doc)
	w.policy, w.seen = doc, true
	w.mu.Unlock()
	if changed {
		ctrl.LoggerFrom(ctx).Info("DNS policy changed; re-checking every DomainManager", "configmap", req.String(), "present", doc != nil)
		w.r.requeueAll()
	}
	return reconcile.Result{}, nil
}

func samePtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
