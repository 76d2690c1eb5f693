// Command inference-server serves a fraud model over HTTP, with its
// features read through Tandem from a two-region Hopsworks feature store.
//
//	cd examples && go run ./inference-server               # on the in-process sandbox
//	go run ./inference-server -config prod.json            # on a real deployment
//	TANDEM_REGIONS=eu,us ... go run ./inference-server      # configured by env vars
//
// Endpoints:
//
//	POST /predict {"entity": {"cc_num": 100001}}
//	     → {"score": 0.12, "model": "...", "features": {...}, "region": "eu", "hedged": false}
//	     400 for a bad entity (unknown or missing serving key, wrong type),
//	     404 when no feature group has a row, 503 when not ready or no region answers.
//	GET  /healthz   the process is up
//	GET  /readyz    200 once the view's serving plan and the ACA state are known
//	GET  /metrics   Prometheus: the server's metrics (inference_*), Tandem's
//	                (tandem_online_*, tandem_featurestore_*, tandem_aca_*,
//	                tandem_metadata_*) through the OpenTelemetry Prometheus
//	                exporter, Go and process metrics
//
// The model is a logistic regression whose weights come from a JSON file
// (-model; the default, model.json, is embedded and fits the sandbox's
// feature view). SIGINT or SIGTERM shuts down gracefully: the server
// stops accepting connections, requests in flight finish (within
// -shutdown-timeout), then the featurestore client (and the sandbox)
// close.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "inference-server:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts down gracefully. Logs go to out;
// getenv reads the environment (os.Getenv in main).
func run(ctx context.Context, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("inference-server", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	useSandbox := fs.Bool("sandbox", true, "serve from an in-process two-region sandbox (ignored with -config or TANDEM_REGIONS)")
	configPath := fs.String("config", "", "JSON config of a real deployment (format: go doc ./internal/config)")
	modelPath := fs.String("model", "", "logistic-regression model JSON (default: the embedded model.json)")
	view := fs.String("view", "", "feature view name (default: from the config, or the sandbox's)")
	version := fs.Int("version", 1, "feature view version")
	grace := fs.Duration("shutdown-timeout", 10*time.Second, "how long requests in flight may take to finish on shutdown")
	if err := fs.Parse(args); err != nil {
		return err
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	log := slog.New(slog.NewTextHandler(out, nil))

	cfg := appConfig{view: *view, version: *version}
	var err error
	switch {
	case *configPath != "":
		if explicit["sandbox"] && *useSandbox {
			return errors.New("-sandbox and -config exclude each other")
		}
		cfg.endpoints, err = loadConfigFile(*configPath, getenv)
	case envConfigured(getenv) && !(explicit["sandbox"] && *useSandbox):
		cfg.endpoints, err = configFromEnv(getenv)
	case *useSandbox:
		cfg.useSandbox = true
	default:
		return errors.New("no feature store: pass -config, set TANDEM_REGIONS, or use -sandbox")
	}
	if err != nil {
		return err
	}
	if cfg.endpoints.version > 0 && !explicit["version"] {
		cfg.version = cfg.endpoints.version
	}
	raw := defaultModel
	if *modelPath != "" {
		if raw, err = os.ReadFile(*modelPath); err != nil {
			return err
		}
	}
	if cfg.model, err = ParseModel(raw); err != nil {
		return err
	}

	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	mode := "sandbox"
	if !cfg.useSandbox {
		mode = "deployment"
	}
	log.Info("listening", "url", "http://"+ln.Addr().String(), "mode", mode, "model", a.model.Name,
		"feature_view", a.view, "version", a.version)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case err := <-a.fatal:
		_ = srv.Close()
		<-errc
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", *grace)
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
