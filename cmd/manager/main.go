// Command manager is the fleethub hub manager: it discovers member clusters
// from kubeconfig Secrets on the hub and reconciles fleethub's kinds in each.
// Everything is wired in package app.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/fleethub/fleethub/cmd/manager/app"
)

// version is stamped at build time (-ldflags -X main.version=...).
var version = "dev"

func main() {
	if err := app.Run(os.Args[1:], os.Getenv, os.Stderr, version); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // usage was printed
		}
		fmt.Fprintln(os.Stderr, "fleethub:", err)
		os.Exit(1)
	}
}
