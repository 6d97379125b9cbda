package bench

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Two replicas' client counters are merged, attributed to members by
// host, and the hub's own apiserver is left out.
func TestRequestSnapshotFromReplicaMetrics(t *testing.T) {
	serve := func(body string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(body))
		}))
	}
	const header = "# TYPE rest_client_requests_total counter\n"
	a := serve(header +
		`rest_client_requests_total{code="200",host="127.0.0.1:1001",method="GET",replica="hub-1"} 7` + "\n" +
		`rest_client_requests_total{code="201",host="127.0.0.1:1001",method="POST",replica="hub-1"} 2` + "\n" +
		`rest_client_requests_total{code="200",host="127.0.0.1:9999",method="PATCH",replica="hub-1"} 5` + "\n")
	defer a.Close()
	b := serve(header +
		`rest_client_requests_total{code="200",host="127.0.0.1:1002",method="PATCH",replica="hub-2"} 3` + "\n" +
		`rest_client_requests_total{code="409",host="127.0.0.1:1002",method="PATCH",replica="hub-2"} 1` + "\n")
	defer b.Close()
	f := &fleet{
		replicas: []*replica{{id: "hub-1", metricsAddr: strings.TrimPrefix(a.URL, "http://")}, {id: "hub-2", metricsAddr: strings.TrimPrefix(b.URL, "http://")}},
		hosts:    map[string]string{"127.0.0.1:1001": "m1", "127.0.0.1:1002": "m2"},
	}
	s := f.requestSnapshot()
	if got := s["m1"][RequestKey{Verb: "read"}]; got != 7 {
		t.Errorf("m1 reads = %d, want 7", got)
	}
	if got := s.WriteCount(); got != 6 {
		t.Errorf("writes = %d, want 6 (2 creates in m1, 4 patches in m2; the hub's own left out): %v", got, s)
	}
	if _, ok := s["127.0.0.1:9999"]; ok || len(s) != 2 {
		t.Errorf("unexpected clusters: %v", s)
	}
}

func TestMedianReplicaMemory(t *testing.T) {
	med, lo, hi := medianReplicaMemory([]ReplicaMemory{{HeapLiveMiB: 30}, {HeapLiveMiB: 10}, {HeapLiveMiB: 20}})
	if med.HeapLiveMiB != 20 || lo.HeapLiveMiB != 10 || hi.HeapLiveMiB != 30 {
		t.Errorf("median %v, range %v–%v", med.HeapLiveMiB, lo.HeapLiveMiB, hi.HeapLiveMiB)
	}
	if m, _, _ := medianReplicaMemory(nil); m != (ReplicaMemory{}) {
		t.Errorf("no samples: %+v", m)
	}
}
