package aca

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/testutil"
)

// testTimeout bounds every wait in the tests.
const testTimeout = 5 * time.Second

const (
	euBody = `{"active": "eu", "secondary": "us"}`
	usBody = `{"active": "us", "secondary": "eu"}`
)

var (
	euState = State{Active: "eu", Secondary: "us"}
	usState = State{Active: "us", Secondary: "eu"}
)

// fakeACA is an ACA endpoint that speaks like the Hopsworks judge (nginx:
// application/json, status 200) plus an ETag, and can be made to misbehave.
type fakeACA struct {
	*httptest.Server
	mu          sync.Mutex
	status      int
	body        string
	contentType string
	delay       time.Duration

	hits        atomic.Int64
	notModified atomic.Int64
	lastINM     atomic.Value // string: the last If-None-Match received
}

func newFakeACA(t *testing.T, body string) *fakeACA {
	t.Helper()
	f := &fakeACA{status: http.StatusOK, body: body, contentType: "application/json"}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// set makes the endpoint answer 200 with body as application/json.
func (f *fakeACA) set(body string) { f.setFull(http.StatusOK, "application/json", body) }

func (f *fakeACA) setFull(status int, contentType, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.contentType, f.body = status, contentType, body
}

func (f *fakeACA) setDelay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

func (f *fakeACA) serve(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	f.mu.Lock()
	status, ct, body, delay := f.status, f.contentType, f.body, f.delay
	f.mu.Unlock()
	f.lastINM.Store(r.Header.Get("If-None-Match"))
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if status == http.StatusServiceUnavailable {
		// As a load balancer would; the client must not wait for it.
		w.Header().Set("Retry-After", "3600")
	}
	if status == http.StatusOK {
		sum := sha256.Sum256([]byte(body))
		etag := `"` + hex.EncodeToString(sum[:8]) + `"`
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			f.notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// deadURL returns the URL of a server that has been closed: connections to
// it are refused.
func deadURL(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}

// fakeClock is a settable clock for Staleness.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestClient returns a client that is closed when the test ends. Its
// interval is an hour unless cfg says otherwise, so that rounds after the
// first happen only when the test calls Refresh.
func newTestClient(t *testing.T, cfg Config, opts ...Option) *Client {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = time.Hour
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Second
	}
	c, err := New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitReady waits for the first state, bounded by testTimeout.
func waitReady(t *testing.T, c *Client) State {
	t.Helper()
	st, err := c.WaitReady(testCtx(t))
	if err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return st
}

// refresh runs a round now and returns the client's state.
func refresh(t *testing.T, c *Client) State {
	t.Helper()
	st, err := c.Refresh(testCtx(t))
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	return st
}

// recvState waits up to d for a state on ch.
func recvState(t *testing.T, ch <-chan State, d time.Duration) (State, bool) {
	t.Helper()
	select {
	case s, ok := <-ch:
		return s, ok
	case <-time.After(d):
		t.Fatalf("no state on the channel within %v", d)
		return State{}, false
	}
}

func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, d, what, cond)
}
