package app_test

// --pprof-bind-address, from the command line to a running manager: with the
// flag the net/http/pprof endpoints answer on that address; without it (the
// default "0") no listener of the manager serves them.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleethub/fleethub/cmd/manager/app/fleettest"
	"github.com/fleethub/fleethub/pkg/config"
)

func TestPprofBindAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	fleettest.SetupLogging()
	fleet, err := fleettest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fleet.Stop)
	noEnv := func(string) string { return "" }
	base := []string{"--hub-namespace=" + fleettest.HubNamespace, "--leader-elect=false", "--log-format=text"}

	// start runs the manager with args until the test ends; it is up once
	// its readiness endpoint (on probe) answers.
	start := func(t *testing.T, probe string, args ...string) {
		t.Helper()
		cfg, err := config.Parse(append(append([]string{}, base...), args...), noEnv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		m, err := fleet.StartManager(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := m.Stop(); err != nil {
				t.Error(err)
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := fleettest.Eventually(ctx, 90*time.Second, func() error {
			code, _, err := get("http://" + probe + "/readyz")
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("/readyz: %d", code)
			}
			return err
		}); err != nil {
			t.Fatalf("manager not ready: %v", err)
		}
	}

	t.Run("set", func(t *testing.T) {
		pprofAddr, probe := freeAddr(t), freeAddr(t)
		start(t, probe, "--pprof-bind-address="+pprofAddr, "--metrics-bind-address=0", "--health-probe-bind-address="+probe)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		err := fleettest.Eventually(ctx, 60*time.Second, func() error {
			code, body, err := get("http://" + pprofAddr + "/debug/pprof/")
			if err != nil {
				return err
			}
			if code != http.StatusOK || !strings.Contains(body, "goroutine") {
				return fmt.Errorf("/debug/pprof/: %d: %.200s", code, body)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("pprof index on --pprof-bind-address=%s: %v", pprofAddr, err)
		}
		code, body, err := get("http://" + pprofAddr + "/debug/pprof/goroutine?debug=1")
		if err != nil || code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
			t.Errorf("goroutine profile: %d %v: %.200s", code, err, body)
		}
	})

	t.Run("unset", func(t *testing.T) {
		metricsAddr, probe := freeAddr(t), freeAddr(t)
		start(t, probe, "--metrics-bind-address="+metricsAddr, "--health-probe-bind-address="+probe)
		// Metrics must answer, so a 404 below is that server refusing the path.
		if code, _, err := get("http://" + metricsAddr + "/metrics"); err != nil || code != http.StatusOK {
			t.Fatalf("/metrics: %d %v", code, err)
		}
		for _, addr := range []string{metricsAddr, probe} {
			code, body, err := get("http://" + addr + "/debug/pprof/")
			if err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
			if code != http.StatusNotFound {
				t.Errorf("http://%s/debug/pprof/ without --pprof-bind-address: %d, want 404: %.200s", addr, code, body)
			}
		}
	})
}

// freeAddr is a loopback address with a port nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(url string) (int, string, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
