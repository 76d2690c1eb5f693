package aca_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/tandemfs/tandem/aca"
)

// A Client following three ACA endpoints, one of which is down. The
// endpoints are local test servers; one is an aca.Handler serving a file.
func Example() {
	judge := func(body string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, body)
		}))
	}
	a := judge(`{"active": "eu", "secondary": "us"}`)
	defer a.Close()
	down := judge("")
	down.Close()

	dir, err := os.MkdirTemp("", "aca-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "aca.json")
	if err := os.WriteFile(file, []byte(`{"active": "eu", "secondary": "us"}`), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	h, err := aca.NewHandler(file)
	if err != nil {
		fmt.Println(err)
		return
	}
	b := httptest.NewServer(h)
	defer b.Close()

	c, err := aca.New(aca.Config{
		Endpoints: []string{a.URL, down.URL, b.URL},
		Interval:  100 * time.Millisecond,
		Local:     "us",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.WaitReady(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	local, _ := c.LocalIsActive()
	fmt.Printf("active=%s secondary=%s local active=%v\n", st.Active, st.Secondary, local)
	// Output: active=eu secondary=us local active=false
}

// A Watchdog runs work only in the active region.
func ExampleWatchdog() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active": "eu", "secondary": "us"}`)
	}))
	defer srv.Close()
	c, err := aca.New(aca.Config{Endpoints: []string{srv.URL}, Interval: 50 * time.Millisecond, Timeout: 100 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	// The zero WatchdogConfig derives a fence from the client's timings
	// (here about 420ms; 3.45s with the default Interval and Timeout) that
	// exceeds the longest the other region may still run.
	w, err := aca.NewWatchdog(c, "eu", aca.WatchdogConfig{},
		aca.WithEventHandler(func(e aca.Event) { fmt.Println("event:", e.Kind) }))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = w.Run(ctx, func(ctx context.Context) error {
		fmt.Println("working while eu is active")
		cancel() // end the example; real work runs until ctx is cancelled
		<-ctx.Done()
		return nil
	})
	fmt.Println("Run:", err)
	// Output:
	// event: fencing
	// event: started
	// working while eu is active
	// event: stopped
	// Run: context canceled
}
