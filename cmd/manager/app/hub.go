package app

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	crconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	mcbuilder "sigs.k8s.io/multicluster-runtime/pkg/builder"
	mcmanager "sigs.k8s.io/multicluster-runtime/pkg/manager"
	mcreconcile "sigs.k8s.io/multicluster-runtime/pkg/reconcile"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/pkg/config"
	"github.com/fleethub/fleethub/pkg/controller/simpledb"
	"github.com/fleethub/fleethub/pkg/controller/webapp"
	"github.com/fleethub/fleethub/pkg/crds"
	"github.com/fleethub/fleethub/pkg/fairqueue"
	"github.com/fleethub/fleethub/pkg/membercache"
	"github.com/fleethub/fleethub/pkg/memberleft"
	"github.com/fleethub/fleethub/pkg/metrics"
	"github.com/fleethub/fleethub/pkg/shard"
	"github.com/fleethub/fleethub/providers/kubeconfig"
)

// Hub permissions of the manager itself (deploy/rbac): its leader Lease.
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=fleethub-system,resources=leases,verbs=get;list;watch;create;update;patch;delete
// Leader election reports "became leader" through the core Events API.
// +kubebuilder:rbac:groups="",namespace=fleethub-system,resources=events,verbs=create;patch

// Options are hooks for embedding the hub (tests, benchmarks).
type Options struct {
	// MemberRESTConfig adjusts each member's rest.Config after the hub's own
	// settings (for example to count requests at the transport).
	MemberRESTConfig func(name string, cfg *rest.Config)
	// SkipControllerNameValidation allows several managers in one process.
	SkipControllerNameValidation bool
	// ShardProbe is how often, with sharding, a replica re-decides which
	// members it runs (default 2s).
	ShardProbe time.Duration
}

// Scheme knows the built-in kinds fleethub touches and the fleethub API.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// ManagedSelector selects the children fleethub manages in members.
func ManagedSelector() labels.Selector {
	return labels.SelectorFromSet(labels.Set{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue})
}

// MemberCacheOptions keep a member's cache to what fleethub manages: its own
// CRs, and children carrying the managed-by label. A member with thousands of
// unrelated Deployments or Secrets costs the hub nothing, and labelled objects
// no fleethub CR controls are only stubs (pkg/membercache).
func MemberCacheOptions() cache.Options {
	managed := cache.ByObject{Label: ManagedSelector(), Transform: membercache.Transform}
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.Deployment{}:            managed,
			&corev1.Service{}:               managed,
			&corev1.PersistentVolumeClaim{}: managed,
			&corev1.Secret{}:                managed,
			&corev1.ConfigMap{}:             managed,
		},
	}
}

// controllerOptions are the options of each kind's controller.
func controllerOptions(cfg config.Config, skipNameValidation *bool) controller.TypedOptions[mcreconcile.Request] {
	// controller-runtime v0.24.1's priority queue can deadlock on shutdown
	// (see New); fairqueue is a plain rate-limiting queue.
	noPriorityQueue := false
	reconcileTimeout := cfg.Fairness.ReconcileTimeout
	if reconcileTimeout <= 0 {
		reconcileTimeout = config.DefaultReconcileTimeout
	}
	return controller.TypedOptions[mcreconcile.Request]{
		UsePriorityQueue:        &noPriorityQueue,
		MaxConcurrentReconciles: cfg.MaxConcurrentReconciles,
		SkipNameValidation:      skipNameValidation,
		// Workers are shared fairly by the members: one lane per member,
		// served round-robin, and a member with items in flight waits
		// while one with fewer has work (pkg/fairqueue). Each controller
		// gets a queue and rate limiter of its own.
		NewQueue: fairqueue.NewClusterQueue,
		// A reconcile that hangs (a cache that never syncs, a member that
		// stops answering) gives its worker back at this deadline.
		ReconciliationTimeout: reconcileTimeout,
	}
}

// kind is one fleethub kind the hub serves: its CRD's resource name and the
// setup of its controller. A member is engaged for the kinds whose CRDs it has.
type kind struct {
	resource, kind string
	// informers are what the kind's controller watches and reads from the
	// member cache; the provider syncs them before handing a member over.
	informers []client.Object
	setup     func(engage mcbuilder.EngageOptions) error
}

// New builds the hub manager from cfg against the hub cluster at hubCfg.
func New(hubCfg *rest.Config, cfg config.Config, opts Options) (mcmanager.Manager, *kubeconfig.Provider, error) {
	scheme := Scheme()
	var mgr mcmanager.Manager
	dnsProvider := NewDNSProvider(cfg)
	// controller-runtime v0.24.1's priority queue can deadlock on shutdown
	// (kubernetes-sigs/controller-runtime#3538), holding every stop — and so
	// every rollout and leader handover — for the whole grace period.
	noPriorityQueue := false
	ctrlOpts := controllerOptions(cfg, &opts.SkipControllerNameValidation)
	// The one "member left" signal: the provider reports a removed member,
	// and every per-member structure drops its state from this hook.
	left := &memberleft.Hooks{}
	left.Add(metrics.ForgetCluster)
	kinds := []kind{
		{resource: "webapps", kind: "WebApp", informers: []client.Object{&v1alpha1.WebApp{}, &appsv1.Deployment{}, &corev1.Service{}, &corev1.PersistentVolumeClaim{}}, setup: func(engage mcbuilder.EngageOptions) error {
			return (&webapp.Reconciler{Manager: mgr, ResyncInterval: cfg.ResyncInterval}).SetupWithManager(mgr, ctrlOpts, engage)
		}},
		{resource: "domainmanagers", kind: "DomainManager", informers: []client.Object{&v1alpha1.DomainManager{}}, setup: func(engage mcbuilder.EngageOptions) error {
			return setupDomainManager(mgr, cfg, dnsProvider, ctrlOpts, engage, left)
		}},
		{resource: "simpledbs", kind: "SimpleDB", informers: []client.Object{&v1alpha1.SimpleDB{}, &corev1.Secret{}, &corev1.PersistentVolumeClaim{}, &appsv1.Deployment{}, &corev1.Service{}}, setup: func(engage mcbuilder.EngageOptions) error {
			return (&simpledb.Reconciler{Manager: mgr, ResyncInterval: cfg.ResyncInterval, ImageRepository: cfg.PostgresImageRepository}).SetupWithManager(mgr, ctrlOpts, engage)
		}},
	}
	resources := map[string]string{}
	informers := map[string][]client.Object{}
	for _, k := range kinds {
		resources[k.resource] = k.kind
		informers[k.kind] = k.informers
	}

	// With sharding every replica is active and the coordinator decides which
	// members each one runs; the provider connects only to those (pkg/shard).
	replica := cfg.Sharding.ReplicaID
	leaderElect := cfg.LeaderElect
	var ring *shard.Ring
	var mcOpts []mcmanager.Option
	var owns func(string) bool
	if cfg.Sharding.Enabled {
		direct, err := client.New(hubCfg, client.Options{Scheme: scheme})
		if err != nil {
			return nil, nil, fmt.Errorf("creating the hub client for sharding: %w", err)
		}
		var coord mcmanager.Coordinator
		ring, coord = shard.New(direct, ctrl.Log, shard.Options{
			Namespace: cfg.HubNamespace, ReplicaID: replica, LeaseDuration: cfg.Sharding.LeaseDuration, Probe: opts.ShardProbe,
			LeaderLease: cfg.LeaderElectionID,
		})
		replica = ring.Replica()
		mcOpts = append(mcOpts, mcmanager.WithCoordinator(coord))
		owns = ring.Owns
		leaderElect = false
	}

	// Sharded replicas label every series with their name, so their metrics
	// can be told apart and summed; one active replica keeps them as they are.
	metricsOpts := metricsserver.Options{BindAddress: cfg.MetricsAddr}
	if cfg.Sharding.Enabled {
		metricsOpts.FilterProvider = metrics.ReplicaFilter(crmetrics.Registry, replica)
	}

	provider := kubeconfig.New(kubeconfig.Options{
		Namespace:     cfg.HubNamespace,
		GroupVersion:  v1alpha1.GroupVersion.String(),
		Kinds:         resources,
		Informers:     informers,
		EngageTimeout: cfg.MemberEngageTimeout,
		ProbeInterval: cfg.MemberProbeInterval,
		Defaults: kubeconfig.ClientSettings{
			QPS:            float32(cfg.MemberQPS),
			Burst:          cfg.MemberBurst,
			RequestTimeout: cfg.MemberRequestTimeout,
		},
		Policy: kubeconfig.Policy{
			AllowExecPlugins: cfg.AllowExecPlugins, AllowInsecure: cfg.AllowInsecureMembers,
			AllowProxy: cfg.Members.AllowProxy, AllowImpersonation: cfg.Members.AllowImpersonation,
			AllowBasicAuth: cfg.Members.AllowBasicAuth, AllowAnonymous: cfg.Members.AllowAnonymous,
			AllowLinkLocal: cfg.Members.AllowLinkLocal, AllowedServers: cfg.Members.AllowedServerList(),
		},
		FailureThreshold: cfg.Members.FailureThreshold,
		ClusterOptions: []cluster.Option{func(o *cluster.Options) {
			o.Scheme = scheme
			o.Cache = MemberCacheOptions()
			o.NewCache = membercache.New
		}},
		RESTConfig:         opts.MemberRESTConfig,
		SkipNameValidation: opts.SkipControllerNameValidation,
		OnRemove:           left.Left,
		ReplicaID:          replica,
		Owns:               owns,
	})
	if cfg.InstallCRDs {
		provider.InstallCRDs(installCRDs)
	}

	renew := 10 * time.Second
	lease := 15 * time.Second
	retry := 2 * time.Second
	var err error
	mgr, err = mcmanager.New(hubCfg, provider, manager.Options{
		Scheme: scheme,
		// The hub reads only its own namespace: member Secrets and DNS credentials.
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{cfg.HubNamespace: {}},
		},
		Controller:                    crconfig.Controller{UsePriorityQueue: &noPriorityQueue},
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        cfg.ProbeAddr,
		PprofBindAddress:              cfg.PprofAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              cfg.LeaderElectionID,
		LeaderElectionNamespace:       cfg.HubNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &lease,
		RenewDeadline:                 &renew,
		RetryPeriod:                   &retry,
	}, mcOpts...)
	if err != nil {
		return nil, nil, fmt.Errorf("creating manager: %w", err)
	}
	if err := provider.SetupWithManager(mgr); err != nil {
		return nil, nil, fmt.Errorf("setting up the kubeconfig provider: %w", err)
	}
	for _, k := range kinds {
		if err := k.setup(provider.KindFilter(k.kind)); err != nil {
			return nil, nil, fmt.Errorf("setting up the %s controller: %w", k.kind, err)
		}
	}

	if err := addShardRunnables(mgr.GetLocalManager(), replica, ring, provider, dnsProvider); err != nil {
		return nil, nil, err
	}

	if cfg.ProbeAddr != "0" {
		if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
			return nil, nil, err
		}
		if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
			return nil, nil, err
		}
	}
	return mgr, provider, nil
}

// installCRDs is the provider's CRD installer for members that lack one of
// fleethub's CRDs (--install-crds). The member identity needs
// deploy/member/crd-installer.yaml for it.
func installCRDs(ctx context.Context, cfg *rest.Config) error {
	return crds.Install(ctx, cfg, crds.Options{FieldManager: v1alpha1.FieldManager})
}
