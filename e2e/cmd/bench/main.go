// Command bench runs fleethub's benchmark (package e2e/bench): the real hub
// manager in this process against kwok member clusters on this machine. It
// prints a table and writes the results as JSON. `make bench` runs it.
//
//	go run ./e2e/cmd/bench [--members 3] [--webapps 300] [--resync-interval 20s] ...
//
// Ctrl-C stops it; the clusters it made are deleted before it exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fleethub/fleethub/e2e/backend"
	"github.com/fleethub/fleethub/e2e/bench"
)

func main() {
	var opts bench.Options
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	opts.Flags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: bench [flags]\n\nMeasures fleethub on kwok clusters on this machine (see docs/benchmarks.md).\n\n")
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])

	// The first Ctrl-C cancels the run; the signal stays caught afterwards so
	// that further ones cannot interrupt the cleanup.
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	progress := backend.Printer(os.Stderr)
	go func() {
		for s := range sigs {
			progress("%s: stopping; deleting the benchmark's clusters before exiting", s)
			cancel()
		}
	}()

	res, err := bench.Run(ctx, opts, progress)
	code := 0
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		code = 1
	}
	if res != nil {
		if werr := res.WriteJSON(opts.Output); werr != nil {
			fmt.Fprintln(os.Stderr, "bench: writing results:", werr)
			code = 1
		} else {
			progress("results written to %s", opts.Output)
		}
		_ = res.PrintTable(os.Stdout)
	}
	os.Exit(code)
}
