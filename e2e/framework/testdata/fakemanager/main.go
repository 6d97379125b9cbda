// Command fakemanager stands in for the hub manager in framework tests: the
// first time it runs (no marker file next to it) it fails as a manager whose
// port was taken; after that it serves /readyz on its probe address until
// it is terminated.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

func main() {
	probe := flag.String("health-probe-bind-address", "", "")
	flag.String("metrics-bind-address", "", "")
	flag.String("kubeconfig", "", "")
	flag.String("hub-namespace", "", "")
	flag.Bool("leader-elect", true, "")
	flag.Parse()
	exe, _ := os.Executable()
	marker := filepath.Join(filepath.Dir(exe), "started-once")
	if _, err := os.Stat(marker); err != nil {
		_ = os.WriteFile(marker, nil, 0o644)
		fmt.Fprintf(os.Stderr, "fleethub: failed to start metrics server: listen tcp %s: bind: address already in use\n", *probe)
		os.Exit(1)
	}
	http.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	if err := http.ListenAndServe(*probe, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
