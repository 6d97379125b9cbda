package domainmanager

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
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
)

// hubWatcher watches the Secrets in the hub namespace (already in the hub's
// cache): the DNS credentials Secret, whose data goes to the one shared
// provider client on every change (a rotated token is used at once, and every
// DomainManager is re-queued), and the member kubeconfig Secrets, whose
// allowed-suffixes annotation is the member's DNS policy (a change re-queues
// that member's DomainManagers).
type hubWatcher struct {
	r      *Reconciler
	client client.Client

	mu       sync.Mutex
	policies map[string]*string // member → annotation value (nil: absent)
}

func (w *hubWatcher) setup(mgr manager.Manager, skipNameValidation *bool) error {
	w.client = mgr.GetClient()
	w.policies = map[string]*string{}
	ns := w.r.HubNamespace
	return ctrl.NewControllerManagedBy(mgr).
		Named("dns-hub-secrets").
		For(&corev1.Secret{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetNamespace() == ns
		}))).
		// Read the credentials once at start even if their Secret does not
		// exist (then no event would ever name it).
		WatchesRawSource(source.Func(func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
			q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: w.r.CredentialsSecret}})
			return nil
		})).
		WithOptions(controller.Options{SkipNameValidation: skipNameValidation, MaxConcurrentReconciles: 1}).
		Complete(w)
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

	// A member Secret: re-queue its DomainManagers when its policy changed.
	var now *string
	if exists {
		if v, ok := s.Annotations[v1alpha1.AnnotationDNSAllowedSuffixes]; ok {
			now = &v
		}
	}
	w.mu.Lock()
	prev, known := w.policies[req.Name]
	if exists {
		w.policies[req.Name] = now
	} else {
		delete(w.policies, req.Name)
	}
	w.mu.Unlock()
	if known && !samePtr(prev, now) {
		ctrl.LoggerFrom(ctx).Info("DNS policy of a member changed; re-checking its DomainManagers", "cluster", req.Name)
		w.r.requeueCluster(req.Name)
	}
	return reconcile.Result{}, nil
}

func samePtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
