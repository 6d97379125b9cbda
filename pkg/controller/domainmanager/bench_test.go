package domainmanager_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fleethub/fleethub/api/v1alpha1"
	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
)

const benchTotal = 1000

var benchSetup sync.Once

// BenchmarkSteadyState1000DomainManagers puts 1000 DomainManagers (500 in
// each member) into one zone, waits until all are Ready, then measures what
// one resync interval costs at Cloudflare and in the members. Each iteration
// is one resync interval, so run it as
//
//	go test -run '^$' -bench SteadyState -benchtime 5x ./pkg/controller/domainmanager/
//
// It is not part of `go test` / `make test` (benchmarks only run with -bench).
func BenchmarkSteadyState1000DomainManagers(b *testing.B) {
	ctx := context.Background()
	ns := "bench"
	zone := cf.ZoneID("bench.example")
	var setupErr error
	benchSetup.Do(func() {
		start := time.Now()
		setupErr = benchCreate(ctx, ns)
		if setupErr == nil {
			setupErr = benchWaitReady(ctx, ns)
		}
		b.Logf("%d DomainManagers created and Ready in %s", benchTotal, time.Since(start).Round(time.Second))
	})
	if setupErr != nil {
		b.Fatal(setupErr)
	}
	if n := len(cf.Records("bench.example")); n != benchTotal {
		b.Fatalf("%d records in the zone, want %d", n, benchTotal)
	}
	resync := cfg.ResyncInterval
	time.Sleep(resync) // let the last status writes and events settle

	members := fleet.Requests.Snapshot()
	total, writes := cf.Total(), cf.Writes()
	pages := cf.Count(http.MethodGet, "/zones/"+zone+"/dns_records")
	b.ResetTimer()
	for range b.N {
		time.Sleep(resync)
	}
	b.StopTimer()

	n := float64(b.N)
	memberWrites := 0
	now := fleet.Requests.Snapshot()
	for _, m := range []string{"alpha", "beta"} {
		for k, v := range now[m] {
			switch verb, _, _ := strings.Cut(k, " "); verb {
			case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
				memberWrites += v - members[m][k]
			}
		}
	}
	b.ReportMetric(float64(cf.Total()-total)/n, "cf-calls/interval")
	b.ReportMetric(float64(cf.Count(http.MethodGet, "/zones/"+zone+"/dns_records")-pages)/n, "list-pages/interval")
	b.ReportMetric(float64(cf.Writes()-writes)/n, "cf-writes/interval")
	b.ReportMetric(float64(memberWrites)/n, "member-writes/interval")
	b.ReportMetric(float64(benchTotal), "domainmanagers")
	if cf.Writes() != writes {
		b.Errorf("%d writes to Cloudflare in steady state", cf.Writes()-writes)
	}
}

func benchCreate(ctx context.Context, ns string) error {
	for _, m := range []string{"alpha", "beta"} {
		err := fleet.Members[m].Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	errs := make(chan error, benchTotal)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range benchTotal {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			m := []string{"alpha", "beta"}[i%2]
			dm := domainManager(ns, fmt.Sprintf("h%04d", i), fmt.Sprintf("h%04d.bench.example", i), "A", fmt.Sprintf("198.18.%d.%d", i/250, i%250+1))
			if err := fleet.Members[m].Client.Create(ctx, dm); err != nil && !apierrors.IsAlreadyExists(err) {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func benchWaitReady(ctx context.Context, ns string) error {
	return fleettest.Eventually(ctx, 10*time.Minute, func() error {
		ready := 0
		for _, m := range []string{"alpha", "beta"} {
			list := &v1alpha1.DomainManagerList{}
			if err := fleet.Members[m].Client.List(ctx, list, client.InNamespace(ns)); err != nil {
				return err
			}
			for _, dm := range list.Items {
				if c := meta.FindStatusCondition(dm.Status.Conditions, v1alpha1.ConditionReady); c != nil && c.Reason == v1alpha1.ReasonRecordSynced {
					ready++
				}
			}
		}
		if ready < benchTotal {
			return fmt.Errorf("%d of %d DomainManagers Ready", ready, benchTotal)
		}
		return nil
	})
}
