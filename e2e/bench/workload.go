package bench

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/e2e/backend"
)

// Namespaces of the benchmark's objects in every member.
const (
	nsApps      = "bench-apps"
	nsDNS       = "bench-dns"
	nsProbe     = "bench-probe"
	nsLatency   = "bench-latency"
	nsUnrelated = "bench-unrelated"
)

// item is one object to create in one member, with the key it is tracked by.
type item struct {
	member string
	kind   string
	obj    client.Object
}

func (i item) key() string {
	return trackKey(i.member, i.kind, i.obj.GetNamespace(), i.obj.GetName())
}

func webApp(ns, name string) *v1alpha1.WebApp {
	return &v1alpha1.WebApp{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.WebAppSpec{
			Image:    "nginx:1.27",
			Replicas: ptr.To[int32](1),
			Port:     80,
		},
	}
}

func simpleDB(ns, name string) *v1alpha1.SimpleDB {
	size := resource.MustParse("1Gi")
	return &v1alpha1.SimpleDB{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.SimpleDBSpec{StorageSize: &size},
	}
}

func domainManager(ns string, i int) *v1alpha1.DomainManager {
	return &v1alpha1.DomainManager{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("h%05d", i)},
		Spec: v1alpha1.DomainManagerSpec{
			DomainName: fmt.Sprintf("h%05d.%s", i, DNSZone),
			RecordType: "A",
			Value:      fmt.Sprintf("198.18.%d.%d", i/250, i%250+1),
			TTL:        300,
		},
	}
}

// convergenceItems are the CRs of the convergence section, interleaved by
// member and kind so that every member and kind starts at once.
func convergenceItems(o Options, members []string) []item {
	var out []item
	n := max(o.WebApps, o.SimpleDBs)
	for i := range n {
		for _, m := range members {
			if i < o.WebApps {
				out = append(out, item{m, "WebApp", webApp(nsApps, fmt.Sprintf("web-%04d", i))})
			}
			if i < o.SimpleDBs {
				out = append(out, item{m, "SimpleDB", simpleDB(nsApps, fmt.Sprintf("db-%04d", i))})
			}
		}
	}
	// DomainManagers are spread over the members; all claim a name in one zone.
	var dns []item
	for i := range o.DomainManagers {
		m := members[i%len(members)]
		dns = append(dns, item{m, "DomainManager", domainManager(nsDNS, i)})
	}
	// Interleave DNS names with the rest so they start together too.
	if len(dns) == 0 {
		return out
	}
	mixed := make([]item, 0, len(out)+len(dns))
	step := max(len(out)/len(dns), 1)
	j := 0
	for i, it := range out {
		mixed = append(mixed, it)
		if i%step == 0 && j < len(dns) {
			mixed = append(mixed, dns[j])
			j++
		}
	}
	return append(mixed, dns[j:]...)
}

// createItems creates the items with workers goroutines per member and
// records each create's return time in t (which may be nil).
func (f *fleet) createItems(ctx context.Context, items []item, workers int, t *tracker) error {
	byMember := map[string][]item{}
	for _, it := range items {
		byMember[it.member] = append(byMember[it.member], it)
	}
	errs := make(chan error, len(byMember))
	for m, list := range byMember {
		go func() {
			c := f.clients[m]
			errs <- parallel(ctx, len(list), workers, func(i int) error {
				it := list[i]
				if err := c.Create(ctx, it.obj); err != nil {
					if apierrors.IsAlreadyExists(err) {
						return nil
					}
					return fmt.Errorf("%s: creating %s %s/%s: %w", m, it.kind, it.obj.GetNamespace(), it.obj.GetName(), err)
				}
				if t != nil {
					t.Created(it.key(), time.Now())
				}
				return nil
			})
		}()
	}
	var first error
	for range byMember {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ensureNamespaces creates namespaces in every member.
func (f *fleet) ensureNamespaces(ctx context.Context, names ...string) error {
	for _, c := range f.clients {
		for _, n := range names {
			if err := createIfMissing(ctx, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// UnrelatedMix is how the unrelated objects split into kinds, in percent;
// the rest are ConfigMaps.
type UnrelatedMix struct {
	SecretsPercent     int `json:"secretsPercent"`
	DeploymentsPercent int `json:"deploymentsPercent"`
}

// unrelatedObject is the i-th object without fleethub's label: a Secret, a
// ConfigMap or a Deployment scaled to zero (so the member's controllers
// create a ReplicaSet but no pods), each with a small payload.
func unrelatedObject(i int, mix UnrelatedMix, namespaces int) (string, client.Object) {
	ns := fmt.Sprintf("%s-%02d", nsUnrelated, i%namespaces)
	name := fmt.Sprintf("unrelated-%06d", i)
	labels := map[string]string{"app.kubernetes.io/name": "unrelated", "app.kubernetes.io/managed-by": "someone-else"}
	payload := strings.Repeat(fmt.Sprintf("%06d", i), 40) // 240 bytes
	switch p := i % 100; {
	case p < mix.DeploymentsPercent:
		sel := map[string]string{"app": name}
		return "Deployment", &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](0),
				Selector: &metav1.LabelSelector{MatchLabels: sel},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: sel},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}},
				},
			},
		}
	case p < mix.DeploymentsPercent+mix.SecretsPercent:
		return "Secret", &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Data:       map[string][]byte{"token": []byte(payload)},
		}
	default:
		return "ConfigMap", &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Data:       map[string]string{"config": payload},
		}
	}
}

// createUnrelated creates total unrelated objects spread evenly over the
// members, reporting progress, and returns how many of each kind it made.
func (f *fleet) createUnrelated(ctx context.Context, total int, progress backend.Progress) (map[string]int, error) {
	const namespaces = 10
	var nsNames []string
	for i := range namespaces {
		nsNames = append(nsNames, fmt.Sprintf("%s-%02d", nsUnrelated, i))
	}
	if err := f.ensureNamespaces(ctx, nsNames...); err != nil {
		return nil, err
	}
	members := f.fw.Options.Members
	var done atomic.Int64
	var kinds [3]atomic.Int64 // ConfigMap, Secret, Deployment
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		start := time.Now()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				n := done.Load()
				progress("  %d/%d unrelated objects created (%.0f/s)", n, total, float64(n)/time.Since(start).Seconds())
			}
		}
	}()
	defer close(stop)
	err := parallel(ctx, total, f.opts.UnrelatedWorkers, func(i int) error {
		m := members[i%len(members)]
		kind, obj := unrelatedObject(i/len(members), f.opts.Mix, namespaces)
		if err := f.clients[m].Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s: creating %s %s/%s: %w", m, kind, obj.GetNamespace(), obj.GetName(), err)
		}
		done.Add(1)
		switch kind {
		case "ConfigMap":
			kinds[0].Add(1)
		case "Secret":
			kinds[1].Add(1)
		default:
			kinds[2].Add(1)
		}
		return nil
	})
	return map[string]int{"ConfigMap": int(kinds[0].Load()), "Secret": int(kinds[1].Load()), "Deployment": int(kinds[2].Load())}, err
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}
