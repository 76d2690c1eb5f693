// Command aca-server serves an ACA state from a JSON file, like the
// Hopsworks "judge", and picks up changes to the file (GitOps):
//
//	aca-server -file /etc/aca/state.json -addr :8080
//
// The file holds {"active": "eu", "secondary": "us"}. An invalid edit is
// logged and the last good state is served with the Tandem-Aca-Stale
// header until the file is fixed. SIGINT or SIGTERM shuts down gracefully.
//
// Run an odd number of them, each on its own host and spread over both
// regions: a client confirms a state only when more than half of the
// configured endpoints report it, so three tolerate one failure and five
// tolerate two. To raise the epoch, add "epoch": N to every file;
// docs/aca.md ("Epochs") says how to reset it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tandemfs/tandem/aca"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "aca-server:", err)
		os.Exit(1)
	}
}

func run() error {
	file := flag.String("file", "aca.json", "state file to serve")
	addr := flag.String("addr", ":8080", "address to listen on")
	check := flag.Duration("check", aca.DefaultCheckInterval, "least time between two looks at the file")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	h, err := aca.NewHandler(*file, aca.WithCheckInterval(*check), aca.WithHandlerLogger(log))
	if err != nil {
		return err
	}
	st := h.State()
	log.Info("serving", "addr", *addr, "file", *file, "active", st.Active, "secondary", st.Secondary)

	srv := &http.Server{
		Addr:              *addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()

	select {
	case err := <-errc:
		return err // could not listen
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
