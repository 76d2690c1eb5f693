// Command bench is Tandem's benchmark and chaos harness (issues 7 and 8,
// docs/ARCHITECTURE.md, §6). It starts real MariaDB servers for two regions (eu, the
// local one, and us, the remote one, each behind a fault proxy), HAProxy
// in TCP mode, and runs the scenarios S1–S7 against four contenders with
// the same closed-loop load: the raw go-sql-driver against eu (the
// floor), HAProxy with eu primary and us backup (two check timings), and
// Tandem's online.Store.
//
//	cd examples && go run ./bench -workers 8 -duration 20s -out /tmp/bench8
//
// It writes a Markdown table per scenario to stdout and to
// <out>/results.md, and a latency-percentile plot per scenario to
// <out>/<scenario>.png. Every server and HAProxy it starts is stopped on
// exit, Ctrl-C included.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/internal/mariadbtest"
)

type config struct {
	workers     int
	duration    time.Duration
	warmup      time.Duration
	entities    int
	remoteDelay time.Duration
	timeout     time.Duration
	batch       int
	scenarios   []string
	// contenders, if set, runs only these contenders; rounds runs each
	// scenario's line-up that many times, interleaved (A B A B …), and
	// adds a table of medians.
	contenders  []string
	rounds      int
	out         string
	short       bool
	seed        uint64
	acaInterval time.Duration
	// cpuProfile and memProfile name pprof files to write ("": none).
	cpuProfile, memProfile string
	// Fault timelines (S3, S4).
	pre, outage, blackhole, post time.Duration
}

type harness struct {
	cfg     config
	cluster *cluster
	haproxy *haproxy
	// logMu serialises writes to log: launchCluster logs from one
	// goroutine per server, and an io.Writer such as a bytes.Buffer is not
	// safe for concurrent use.
	logMu sync.Mutex
	log   io.Writer
	// current is the contender under measurement, for scripts that
	// sample it.
	current atomic.Pointer[contender]
}

func (h *harness) logf(format string, args ...any) {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	fmt.Fprintf(h.log, "# "+format+"\n", args...)
}

// println writes s and a newline to the log, serialised with logf.
func (h *harness) println(s string) {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	fmt.Fprintln(h.log, s)
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, "go run ./bench "+strings.Join(os.Args[1:], " ")); err != nil {
		stop()
		log.Printf("bench: %v", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var c config
	var scen string
	fs.IntVar(&c.workers, "workers", 8, "closed-loop workers per contender")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "measured time per contender and scenario")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured warmup before each run")
	fs.IntVar(&c.entities, "entities", 100_000, "entities per feature group")
	fs.DurationVar(&c.remoteDelay, "remote-delay", 20*time.Millisecond, "added round-trip delay of the remote region (us)")
	fs.DurationVar(&c.timeout, "timeout", time.Second, "per-request timeout, the same for every contender")
	fs.IntVar(&c.batch, "batch", 100, "entities per batch (S5)")
	fs.StringVar(&scen, "scenarios", "S1,S2,S3,S4,S5,S6,S7", "comma-separated scenarios to run")
	var only string
	fs.StringVar(&only, "contenders", "", "comma-separated contenders to run (default: each scenario's own line-up)")
	fs.IntVar(&c.rounds, "rounds", 1, "runs of each scenario's line-up, interleaved; more than 1 adds a table of medians")
	fs.StringVar(&c.out, "out", "bench-out", "folder for results.md and the PNG plots")
	fs.BoolVar(&c.short, "short", false, "run every scenario for a few seconds (CI smoke test; no thresholds)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the entity choice")
	fs.DurationVar(&c.acaInterval, "aca-interval", time.Second, "ACA poll interval (S6)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the scenarios to this file")
	fs.StringVar(&c.memProfile, "memprofile", "", "write a pprof allocation profile (after the scenarios) to this file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.pre, c.outage, c.blackhole, c.post = 2*time.Second, 10*time.Second, 5*time.Second, 3*time.Second
	if c.short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["duration"] {
			c.duration = 2 * time.Second
		}
		if !set["warmup"] {
			c.warmup = 500 * time.Millisecond
		}
		if !set["entities"] {
			c.entities = 10_000
		}
		if !set["aca-interval"] {
			c.acaInterval = 200 * time.Millisecond
		}
		c.pre, c.outage, c.blackhole, c.post = 300*time.Millisecond, time.Second, time.Second, 700*time.Millisecond
	}
	for _, s := range strings.Split(scen, ",") {
		s = strings.ToUpper(strings.TrimSpace(s))
		if s == "" {
			continue
		}
		if !slices.ContainsFunc(scenarios, func(d *scenarioDef) bool { return d.id == s }) {
			return c, fmt.Errorf("unknown scenario %q", s)
		}
		c.scenarios = append(c.scenarios, s)
	}
	for _, n := range strings.Split(only, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.Contains(allContenders, n) {
			return c, fmt.Errorf("unknown contender %q (have %s)", n, strings.Join(allContenders, ", "))
		}
		c.contenders = append(c.contenders, n)
	}
	if c.rounds < 1 {
		return c, errors.New("need -rounds ≥ 1")
	}
	if c.workers < 1 || c.entities < c.batch || c.batch < 1 {
		return c, errors.New("need -workers ≥ 1 and -entities ≥ -batch ≥ 1")
	}
	return c, nil
}

// run runs the selected scenarios and writes the report. Whatever it
// starts, it stops before returning.
func run(ctx context.Context, cfg config, w io.Writer, command string) error {
	_ = mysql.SetLogger(&mysql.NopLogger{}) // lost connections are the point of S3/S4
	h := &harness{cfg: cfg, log: w}
	machine := machineInfo()
	header := fmt.Sprintf("Command: `%s`\n\nMachine: %s\n\nWorkers: %d, duration %v per run (+%v warmup), %d entities, remote delay %v, request timeout %v.\n",
		command, machine, cfg.workers, cfg.duration, cfg.warmup, cfg.entities, cfg.remoteDelay, cfg.timeout)
	h.println(header)
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	var defs []*scenarioDef
	needS7, needDB := false, false
	for _, d := range scenarios {
		if slices.Contains(cfg.scenarios, d.id) {
			defs = append(defs, d)
			needS7 = needS7 || d.needsS7
			needDB = needDB || d.id != "S6"
		}
	}
	if needDB {
		if err := mariadbtest.Available(); err != nil {
			return err
		}
		names := []string{"eu-1", "us-1"}
		if needS7 {
			names = append(names, "eu-2", "us-2")
		}
		start := time.Now()
		c, err := launchCluster(ctx, names, cfg.entities, cfg.remoteDelay, h.logf)
		if err != nil {
			return err
		}
		defer c.stop()
		h.cluster = c
		hp, err := startHAProxy(ctx, c, h.logf)
		if err != nil {
			return err
		}
		defer hp.stop()
		h.haproxy = hp
		h.logf("setup took %v", time.Since(start).Round(time.Millisecond))
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.memProfile != "" {
		defer func() {
			f, err := os.Create(cfg.memProfile)
			if err != nil {
				h.logf("memprofile: %v", err)
				return
			}
			defer f.Close()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				h.logf("memprofile: %v", err)
			}
		}()
	}
	var results []*scenarioResult
	for _, d := range defs {
		start := time.Now()
		h.logf("%s: %s", d.id, d.title)
		r, err := d.run(ctx, h, d)
		if err != nil {
			return fmt.Errorf("%s: %w", d.id, err)
		}
		results = append(results, r)
		h.println(r.markdown())
		if err := r.plot(filepath.Join(cfg.out, d.id+".png")); err != nil {
			return fmt.Errorf("%s: plot: %w", d.id, err)
		}
		h.logf("%s took %v", d.id, time.Since(start).Round(time.Second))
	}
	var b strings.Builder
	b.WriteString(header + "\n")
	for _, r := range results {
		b.WriteString(r.markdown() + "\n")
	}
	fmt.Fprintf(&b, "Load average at the end: %s\n", loadAvg())
	if err := os.WriteFile(filepath.Join(cfg.out, "results.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	h.logf("load average at the end: %s; results in %s", loadAvg(), cfg.out)
	return nil
}
