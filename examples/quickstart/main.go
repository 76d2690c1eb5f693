// Command quickstart shows Tandem at work on an in-process two-region
// sandbox, with nothing to install:
//
//	cd examples && go run ./quickstart
//
// It starts the sandbox (package tandemtest: two embedded MySQL-protocol
// online stores, two fake Hopsworks servers, three ACA endpoints), opens a
// featurestore.Client in region eu, and runs feature-vector lookups from a
// few workers through five phases: both regions healthy; eu stalling some
// reads (hedges to us win); eu killed (lookups go on from us, none fail);
// eu revived (traffic returns to eu); the ACA flipped to us (a metadata
// write lands in us). Each phase prints a live table: where lookups were
// served, how many were hedged, p50/p99 so far, failures.
//
// It exits 0 when no lookup failed, both regions served lookups and every
// metadata write landed in the active region; 1 otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// config is what the flags set.
type config struct {
	phase         time.Duration
	tick          time.Duration
	workers       int
	rate          int
	remoteLatency time.Duration
	stallP        float64
	stall         time.Duration
}

func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.DurationVar(&c.phase, "phase", 2*time.Second, "length of each phase")
	fs.DurationVar(&c.tick, "tick", 500*time.Millisecond, "how often a phase prints a row")
	fs.IntVar(&c.workers, "workers", 4, "concurrent lookup workers")
	fs.IntVar(&c.rate, "rate", 400, "lookups per second, over all workers")
	fs.DurationVar(&c.remoteLatency, "remote-latency", 2*time.Millisecond, "extra round-trip time to the remote region (us)")
	fs.Float64Var(&c.stallP, "stall-p", 0.03, "share of eu reads that stall in phase 2")
	fs.DurationVar(&c.stall, "stall", 50*time.Millisecond, "how long a stalled eu read waits in phase 2")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.phase <= 0 || c.tick <= 0 || c.workers < 1 || c.rate < 1 || c.stallP < 0 || c.stallP > 1 {
		return c, errors.New("flags out of range: -phase and -tick > 0, -workers and -rate >= 1, -stall-p in [0, 1]")
	}
	return c, nil
}

// run runs the demo and returns an error when it failed to show what it
// promises (a failed lookup, a write in the passive region...).
func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	// The driver logs every connection the kill resets; the demo shows
	// what the client saw instead.
	_ = mysql.SetLogger(&mysql.NopLogger{})
	d, err := newDemo(ctx, cfg, out)
	if err != nil {
		return err
	}
	defer d.close()
	return d.run(ctx)
}
