// Command tandem reads a two-region Hopsworks feature store through Tandem
// from the command line:
//
//	tandem vector [flags] ENTRY       one feature vector: values, region, hedged, latency
//	tandem diff   [flags] [ENTRY...]  read the same entities from every region, pinned, and compare
//	tandem status [flags]             the ACA endpoints and quorum, each online server's health
//
// An ENTRY is a JSON object ('{"cc_num": 100001}') or k=v pairs
// (cc_num=100001; a value that parses as an integer or a float is a
// number, otherwise a string).
//
// Without -config or TANDEM_REGIONS, tandem starts the in-process sandbox
// (package examples/tandemtest) and reads its demo view, fraud_features
// v1, keyed by cc_num 100001 to 101000. With -config FILE or the TANDEM_*
// variables it reads a real deployment: the same file and variables as the
// inference server (go doc ./internal/config).
//
// Exit status: 0 on success, 1 when diff -fail-on-diff found differences,
// 2 on an error or bad usage. Install it from a clone with
// `cd examples && go install ./cmd/tandem`; docs/cli.md has the details.
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

	"github.com/tandemfs/tandem/examples/internal/config"
	"github.com/tandemfs/tandem/examples/tandemtest"
	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/region"
)

// Exit statuses.
const (
	exitOK    = 0
	exitDiff  = 1 // diff -fail-on-diff found differences
	exitError = 2 // an error or bad usage
)

const usage = `usage: tandem <command> [flags] [args]

commands:
  vector ENTRY        read one feature vector: its values, region, hedged or not, latency
  diff [ENTRY...]     read the same entities from every region (pinned) and show what differs
  status              the ACA endpoints' answers and quorum, each online server's health

An ENTRY is a JSON object ('{"cc_num": 100001}') or k=v pairs (cc_num=100001).
Without -config or TANDEM_REGIONS, tandem runs against an in-process sandbox.
Run 'tandem <command> -h' for a command's flags.
`

// env is what a run sees of the outside world; main passes the process's.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// sandbox starts the sandbox used without a deployment config. owned
	// says whether the run closes it. Tests hand in one they control.
	sandbox func(ctx context.Context) (sb *tandemtest.Sandbox, owned bool, err error)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, sandbox: startSandbox})
	stop()
	os.Exit(code)
}

func startSandbox(ctx context.Context) (*tandemtest.Sandbox, bool, error) {
	sb, err := tandemtest.Start(ctx, tandemtest.Options{})
	return sb, true, err
}

// run runs one command and returns the exit status.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return exitError
	}
	var cmd func(context.Context, []string, env) error
	switch args[0] {
	case "vector":
		cmd = runVector
	case "diff":
		cmd = runDiff
	case "status":
		cmd = runStatus
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(e.stderr, "tandem: unknown command %q\n\n%s", args[0], usage)
		return exitError
	}
	err := cmd(ctx, args[1:], e)
	var u usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errDiffer):
		return exitDiff
	case errors.As(err, &u):
		fmt.Fprintf(e.stderr, "tandem %s: %v (tandem %[1]s -h lists the flags)\n", args[0], err)
		return exitError
	default:
		fmt.Fprintf(e.stderr, "tandem %s: %v\n", args[0], err)
		return exitError
	}
}

// usageError is a mistake in the command line.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// common are the flags every command takes.
type common struct {
	configPath string
	useSandbox bool
	view       string
	version    int
	timeout    time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configPath, "config", "", "JSON config of a real deployment, the inference server's (default: TANDEM_* variables, else the sandbox)")
	fs.BoolVar(&c.useSandbox, "sandbox", false, "use the in-process sandbox even when TANDEM_REGIONS is set")
	fs.StringVar(&c.view, "view", "", "feature view name (default: from the config, or the sandbox's fraud_features)")
	fs.IntVar(&c.version, "version", 0, "feature view version (default: from the config, or 1)")
	fs.DurationVar(&c.timeout, "timeout", time.Minute, "bound on the whole command")
}

// newFlags makes a command's flag set; its errors go to e.stderr.
func newFlags(name, args string, e env) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet("tandem "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	c := &common{}
	c.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tandem %s [flags] %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs, c
}

// parse parses args; a flag error is a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return nil
}

// session is an open feature store and the view the command reads.
type session struct {
	client  *featurestore.Client
	fv      *featurestore.FeatureView
	regions []region.ID
	sandbox *tandemtest.Sandbox // nil on a real deployment
	owned   bool
	// planLoad is how long loading the view's serving plan took.
	planLoad time.Duration
}

// open connects as the flags say: a config file, TANDEM_* variables or the
// sandbox, and loads the feature view's plan.
func (c *common) open(ctx context.Context, e env) (_ *session, err error) {
	s := &session{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	var d config.Deployment
	switch {
	case c.configPath != "" && c.useSandbox:
		return nil, usagef("-config and -sandbox exclude each other")
	case c.configPath != "":
		d, err = config.LoadFile(c.configPath, e.getenv)
	case config.EnvConfigured(e.getenv) && !c.useSandbox:
		d, err = config.FromEnv(e.getenv)
	default:
		// The sandbox resets connections on purpose; the driver would log
		// each one through its global logger.
		_ = mysql.SetLogger(&mysql.NopLogger{})
		s.sandbox, s.owned, err = e.sandbox(ctx)
		if err != nil {
			return nil, err
		}
		d = config.Deployment{FeatureStore: s.sandbox.Config(), View: tandemtest.FeatureView, Version: tandemtest.FeatureViewVersion}
	}
	if err != nil {
		return nil, err
	}
	if c.view != "" {
		d.View = c.view
	}
	if c.version != 0 {
		d.Version = c.version
	}
	if d.Version == 0 {
		d.Version = 1
	}
	if d.View == "" {
		return nil, usagef("no feature view: give -view, or feature_view in the config (TANDEM_FEATURE_VIEW)")
	}
	for _, r := range d.FeatureStore.Regions {
		s.regions = append(s.regions, r.ID)
	}
	s.client, err = featurestore.New(d.FeatureStore)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	s.fv, err = s.client.FeatureView(ctx, d.View, d.Version)
	if err != nil {
		return nil, err
	}
	s.planLoad = time.Since(start)
	return s, nil
}

// Close closes the client, then the sandbox if the session started it.
func (s *session) Close() {
	if s.client != nil {
		_ = s.client.Close()
	}
	if s.sandbox != nil && s.owned {
		_ = s.sandbox.Close()
	}
}

// withTimeout bounds ctx by the -timeout flag.
func (c *common) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}
