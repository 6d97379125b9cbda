package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/multicluster-runtime/pkg/multicluster"

	"github.com/fleethub/fleethub/api/v1alpha1"
)

// MemoryStudy is the hub's memory before and after the members fill up with
// objects fleethub does not manage.
type MemoryStudy struct {
	AfterConvergence MemorySample `json:"afterConvergence"`
	// Unrelated are the objects added, per kind, and how long that took.
	Unrelated        map[string]int `json:"unrelated,omitempty"`
	UnrelatedSeconds Seconds        `json:"unrelatedCreateSeconds,omitempty"`
	AfterUnrelated   *MemorySample  `json:"afterUnrelated,omitempty"`
	// SteadyAfterUnrelated are the hub's requests per verb in one resync
	// interval with the unrelated objects in place.
	SteadyAfterUnrelated map[string]int `json:"steadyRequestsByVerbAfterUnrelated,omitempty"`
	WritesAfterUnrelated int            `json:"steadyWritesAfterUnrelated"`
}

// MemorySample is the hub process's memory and what its member caches hold.
// The memory is sampled memorySamples times over one resync interval: a
// resync is a burst of reconciles whose working set (apply configurations,
// structured-merge-diff comparisons) is live while it runs, so one sample
// alone depends on where in the burst it falls. Memory is the median
// sample; Min and Max bound the samples.
type MemorySample struct {
	Memory
	Min Memory `json:"min"`
	Max Memory `json:"max"`
	// Cached is the number of objects in the hub's member caches, per kind
	// (all members): only what carries fleethub's label, and the CRs.
	Cached map[string]int `json:"cachedObjects"`
	// MemberObjects is what the members hold of the same kinds, for contrast.
	MemberObjects map[string]int `json:"memberObjects"`
	// MemberControlPlaneMiB is the RSS of each member's kube-apiserver and
	// etcd together (they, not the hub, store the unrelated objects).
	MemberControlPlaneMiB map[string]float64 `json:"memberControlPlaneMiB"`
	// HeapProfile is a pprof heap profile of this moment (go tool pprof).
	HeapProfile string `json:"heapProfile,omitempty"`
	// ManagedObjects are the objects a hub caches for the whole fleet, per
	// kind, counted in the members: fleethub's CRs and the children carrying
	// its label (the caches' own selection), so the figure is the same for
	// one hub and for replicas in other processes.
	ManagedObjects      map[string]int `json:"managedObjects"`
	ManagedObjectsTotal int            `json:"managedObjectsTotal"`
	// HeapPerObjectKiB is the median live heap over ManagedObjectsTotal
	// (the fixed cost of a hub included); MarginalKiB is the growth of the
	// live heap since the baseline (right after engagement, each member
	// holding one WebApp) over the growth of the managed objects.
	HeapPerObjectKiB float64 `json:"heapPerObjectKiB,omitempty"`
	MarginalKiB      float64 `json:"marginalHeapPerObjectKiB,omitempty"`
	// Replicas are the replicas' own samples when the hub runs as replica
	// processes (Options.processes); Memory then sums their medians and
	// Cached is unknown (the caches are in the replicas).
	Replicas []ReplicaSample `json:"replicas,omitempty"`
}

// memPoint is the baseline of one hub (key "") or replica.
type memPoint struct {
	heapMiB float64
	objects int
}

// sampleBaseline records the memory right after engagement, before the
// sections fill the members, for the marginal cost per managed object.
func (f *fleet) sampleBaseline(ctx context.Context) error {
	f.baseline = map[string]memPoint{}
	if f.processMode() {
		rs, err := f.sampleReplicas(ctx, "baseline", 0, 1)
		if err != nil {
			return err
		}
		for _, r := range rs {
			f.baseline[r.Replica] = memPoint{r.Memory.HeapLiveMiB, r.ManagedObjects}
		}
		return nil
	}
	total := 0
	for _, m := range f.fw.Options.Members {
		objs, err := f.managedObjects(ctx, m)
		if err != nil {
			return err
		}
		for _, v := range objs {
			total += v
		}
	}
	f.baseline[""] = memPoint{MeasureMemory().HeapLiveMiB, total}
	return nil
}

// marginalKiB is the heap growth per managed object since the baseline.
func (f *fleet) marginalKiB(key string, heapMiB float64, objects int) float64 {
	b, ok := f.baseline[key]
	if !ok || objects <= b.objects {
		return 0
	}
	return roundTo((heapMiB-b.heapMiB)*1024/float64(objects-b.objects), 2)
}

// managedKinds are what a hub caches of a member: the CRs (all of them)
// and the children kinds, of which only those with fleethub's label.
var managedKinds = []struct {
	kind     string
	gvk      schema.GroupVersionKind
	labelled bool
}{
	{"WebApp", v1alpha1.GroupVersion.WithKind("WebApp"), false},
	{"SimpleDB", v1alpha1.GroupVersion.WithKind("SimpleDB"), false},
	{"DomainManager", v1alpha1.GroupVersion.WithKind("DomainManager"), false},
	{"Deployment", appsv1.SchemeGroupVersion.WithKind("Deployment"), true},
	{"Service", corev1.SchemeGroupVersion.WithKind("Service"), true},
	{"PersistentVolumeClaim", corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"), true},
	{"Secret", corev1.SchemeGroupVersion.WithKind("Secret"), true},
	{"ConfigMap", corev1.SchemeGroupVersion.WithKind("ConfigMap"), true},
}

// managedObjects counts a member's managed objects per kind (metadata only).
func (f *fleet) managedObjects(ctx context.Context, member string) (map[string]int, error) {
	out := map[string]int{}
	selector := client.MatchingLabels{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue}
	for _, k := range managedKinds {
		l := &metav1.PartialObjectMetadataList{}
		l.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
		var opts []client.ListOption
		if k.labelled {
			opts = append(opts, selector)
		}
		if err := f.clients[member].List(ctx, l, opts...); err != nil {
			return nil, fmt.Errorf("%s: listing %ss: %w", member, k.kind, err)
		}
		if len(l.Items) > 0 {
			out[k.kind] = len(l.Items)
		}
	}
	return out, nil
}

func writeHeapProfile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(out, 0); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// memory samples the hub over the resync interval after the steady-state
// window, adds the unrelated objects, lets the hub settle for one interval
// with them, and samples again over the next while counting its requests.
func (f *fleet) memory(ctx context.Context, res *Results) error {
	study := &MemoryStudy{}
	res.Memory = study
	var err error
	if study.AfterConvergence, err = f.sampleMemory(ctx, "after-convergence", f.opts.ResyncInterval); err != nil {
		return err
	}
	a := study.AfterConvergence
	f.progress("  after convergence: RSS %.1f MiB (%.1f–%.1f), live heap %.1f MiB (%.1f–%.1f), cached %v",
		a.RSSMiB, a.Min.RSSMiB, a.Max.RSSMiB, a.HeapLiveMiB, a.Min.HeapLiveMiB, a.Max.HeapLiveMiB, a.Cached)
	if f.opts.Unrelated > 0 {
		f.progress("adding %d unrelated objects across %d members (%d%% Secrets, %d%% Deployments at 0 replicas, the rest ConfigMaps)",
			f.opts.Unrelated, f.opts.Members, f.opts.Mix.SecretsPercent, f.opts.Mix.DeploymentsPercent)
		start := time.Now()
		if study.Unrelated, err = f.createUnrelated(ctx, f.opts.Unrelated, f.progress); err != nil {
			return err
		}
		study.UnrelatedSeconds = Seconds(time.Since(start).Seconds())
		f.progress("  created in %.0fs (%.0f/s); settling for one resync interval", study.UnrelatedSeconds, float64(f.opts.Unrelated)/time.Since(start).Seconds())
		if err := sleep(ctx, f.opts.ResyncInterval); err != nil {
			return err
		}
		before := f.requestSnapshot()
		after, err := f.sampleMemory(ctx, "after-unrelated", f.opts.ResyncInterval)
		if err != nil {
			return err
		}
		d := f.requestSnapshot().Since(before)
		study.SteadyAfterUnrelated, study.WritesAfterUnrelated = d.ByVerb(), d.WriteCount()
		study.AfterUnrelated = &after
		f.progress("  with the unrelated objects: RSS %.1f MiB (%.1f–%.1f), live heap %.1f MiB (%.1f–%.1f), cached %v (members hold %v)",
			after.RSSMiB, after.Min.RSSMiB, after.Max.RSSMiB, after.HeapLiveMiB, after.Min.HeapLiveMiB, after.Max.HeapLiveMiB, after.Cached, after.MemberObjects)
	}
	return nil
}

// memorySamples is how many memory samples one MemorySample takes.
const memorySamples = 5

// sampleMemory counts cached and stored objects, then samples the process's
// memory memorySamples times over the given span, writing a heap profile
// named after the moment (at the first sample) next to the results.
func (f *fleet) sampleMemory(ctx context.Context, moment string, span time.Duration) (MemorySample, error) {
	s := MemorySample{Cached: map[string]int{}, MemberObjects: map[string]int{}, MemberControlPlaneMiB: map[string]float64{}, ManagedObjects: map[string]int{}}
	for _, m := range f.fw.Options.Members {
		objs, err := f.managedObjects(ctx, m)
		if err != nil {
			return s, err
		}
		for k, v := range objs {
			s.ManagedObjects[k] += v
			s.ManagedObjectsTotal += v
		}
	}
	if f.processMode() {
		return f.sampleMemoryOfReplicas(ctx, s, moment, span)
	}
	// Only kinds the controllers already watch: listing another kind from
	// the cache would start an informer for it.
	kinds := []struct {
		name string
		list func() client.ObjectList
	}{
		{"Deployment", func() client.ObjectList { return &appsv1.DeploymentList{} }},
		{"Secret", func() client.ObjectList { return &corev1.SecretList{} }},
		{"Service", func() client.ObjectList { return &corev1.ServiceList{} }},
		{"PersistentVolumeClaim", func() client.ObjectList { return &corev1.PersistentVolumeClaimList{} }},
		{"WebApp", func() client.ObjectList { return &v1alpha1.WebAppList{} }},
		{"SimpleDB", func() client.ObjectList { return &v1alpha1.SimpleDBList{} }},
		{"DomainManager", func() client.ObjectList { return &v1alpha1.DomainManagerList{} }},
	}
	for _, m := range f.fw.Options.Members {
		cl, err := f.mgr.GetCluster(ctx, multicluster.ClusterName(m))
		if err != nil {
			return s, fmt.Errorf("%s: %w", m, err)
		}
		for _, k := range kinds {
			l := k.list()
			if err := cl.GetCache().List(ctx, l); err != nil {
				return s, fmt.Errorf("%s: listing cached %ss: %w", m, k.name, err)
			}
			s.Cached[k.name] += lenOf(l)
			l = k.list()
			if err := f.clients[m].List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
				return s, fmt.Errorf("%s: listing %ss: %w", m, k.name, err)
			}
			s.MemberObjects[k.name] += lenOf(l)
		}
		var rss int64
		pids := f.backend.ComponentPIDs(Prefix + m)
		for _, c := range []string{"kube-apiserver", "etcd"} {
			if pid, ok := pids[c]; ok {
				rss += RSS(pid)
			}
		}
		s.MemberControlPlaneMiB[m] = mib(rss)
	}
	// The member lists above are garbage by now; the samples do not see them.
	var samples []Memory
	for i := range memorySamples {
		if i > 0 {
			if err := sleep(ctx, span/memorySamples); err != nil {
				return s, err
			}
		}
		samples = append(samples, MeasureMemory())
		if i == 0 {
			path := filepath.Join(filepath.Dir(f.opts.Output), "heap-"+moment+".pb.gz")
			if err := writeHeapProfile(path); err != nil {
				return s, err
			}
			s.HeapProfile = path
		}
	}
	s.Memory, s.Min, s.Max = medianMemory(samples)
	if s.ManagedObjectsTotal > 0 {
		s.HeapPerObjectKiB = roundTo(s.HeapLiveMiB*1024/float64(s.ManagedObjectsTotal), 2)
	}
	s.MarginalKiB = f.marginalKiB("", s.HeapLiveMiB, s.ManagedObjectsTotal)
	return s, nil
}

// sampleMemoryOfReplicas fills s from the replica processes' own samples.
func (f *fleet) sampleMemoryOfReplicas(ctx context.Context, s MemorySample, moment string, span time.Duration) (MemorySample, error) {
	s.Cached = nil
	for _, m := range f.fw.Options.Members {
		pids := f.backend.ComponentPIDs(Prefix + m)
		var rss int64
		for _, c := range []string{"kube-apiserver", "etcd"} {
			if pid, ok := pids[c]; ok {
				rss += RSS(pid)
			}
		}
		s.MemberControlPlaneMiB[m] = mib(rss)
	}
	rs, err := f.sampleReplicas(ctx, moment, span, memorySamples)
	if err != nil {
		return s, err
	}
	for i := range rs {
		r := &rs[i]
		s.HeapLiveMiB += r.Memory.HeapLiveMiB
		s.RSSMiB += r.Memory.RSSMiB
		s.Goroutines += r.Memory.Goroutines
		s.Min.HeapLiveMiB += r.Min.HeapLiveMiB
		s.Max.HeapLiveMiB += r.Max.HeapLiveMiB
		s.Min.RSSMiB += r.Min.RSSMiB
		s.Max.RSSMiB += r.Max.RSSMiB
		r.MarginalKiB = f.marginalKiB(r.Replica, r.Memory.HeapLiveMiB, r.ManagedObjects)
	}
	s.Replicas = rs
	// The fleet's marginal cost: the replicas' heaps and objects summed.
	var base memPoint
	for _, b := range f.baseline {
		base.heapMiB += b.heapMiB
		base.objects += b.objects
	}
	f.baseline["all"] = base
	s.MarginalKiB = f.marginalKiB("all", s.HeapLiveMiB, s.ManagedObjectsTotal)
	delete(f.baseline, "all")
	if s.ManagedObjectsTotal > 0 {
		s.HeapPerObjectKiB = roundTo(s.HeapLiveMiB*1024/float64(s.ManagedObjectsTotal), 2)
	}
	return s, nil
}

// medianMemory returns the median, the least and the greatest of the
// samples, each figure taken on its own.
func medianMemory(samples []Memory) (med, lo, hi Memory) {
	pick := func(get func(Memory) float64) (float64, float64, float64) { return spread(samples, get) }
	med.RSSMiB, lo.RSSMiB, hi.RSSMiB = pick(func(m Memory) float64 { return m.RSSMiB })
	med.HeapLiveMiB, lo.HeapLiveMiB, hi.HeapLiveMiB = pick(func(m Memory) float64 { return m.HeapLiveMiB })
	var objs, gs float64
	objs, _, _ = pick(func(m Memory) float64 { return float64(m.HeapObjects) })
	gs, _, _ = pick(func(m Memory) float64 { return float64(m.Goroutines) })
	med.HeapObjects, med.Goroutines = uint64(objs), int(gs)
	return med, lo, hi
}

func lenOf(l client.ObjectList) int { return meta.LenList(l) }

// reengage unregisters the first member and registers it again: the hub
// lists every CR it holds (and nothing unrelated) and reconciles each once,
// which must write nothing since all are converged.
func (f *fleet) reengage(ctx context.Context, res *Results) error {
	m := f.fw.Options.Members[0]
	crs := f.crsIn(m, false)
	f.progress("registering %s again (%d CRs and its share of the unrelated objects)", m, f.crsIn(m, true))
	if err := f.unregister(ctx, m); err != nil {
		return err
	}
	kc, err := f.memberKubeconfig(ctx, m, false)
	if err != nil {
		return err
	}
	e, err := f.timeEngagement(ctx, m, kc, crs)
	if err != nil {
		return err
	}
	if res.Engagement == nil {
		res.Engagement = &Engagement{}
	}
	res.Engagement.Loaded = &e
	if e.TimedOut {
		res.note("loaded re-engagement of %s: not every CR was reconciled within 3 minutes", m)
	}
	f.progress("  engaged after %.2fs, first reconcile after %.2fs, all %d CRs reconciled after %.2fs, %d writes",
		e.Engaged, e.FirstReconcile, crs, e.AllReconciled, deref(e.Writes))
	return nil
}

// crsIn is the number of fleethub CRs the benchmark made in a member,
// DomainManagers only when asked: their controller does not count its
// reconciles in fleethub_reconcile_total, which the engagement timing reads.
func (f *fleet) crsIn(member string, domainManagers bool) int {
	n := 1 + f.opts.WebApps + f.opts.SimpleDBs // the probe WebApp, then convergence
	members := f.fw.Options.Members
	for i := range f.opts.DomainManagers {
		if domainManagers && members[i%len(members)] == member {
			n++
		}
	}
	if f.opts.LatencyWebApps > 0 && (f.opts.Members == 1 || member != members[len(members)-1]) {
		n += f.opts.LatencyWebApps
		if f.opts.Members > 1 {
			n += f.opts.LatencyWebApps
		}
	}
	return n
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// spread returns the median, the least and the greatest of one figure of
// samples (not empty).
func spread[T any](samples []T, get func(T) float64) (med, lo, hi float64) {
	v := make([]float64, len(samples))
	for i, sample := range samples {
		v[i] = get(sample)
	}
	slices.Sort(v)
	return v[len(v)/2], v[0], v[len(v)-1]
}
