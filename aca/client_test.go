package aca

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no endpoints", Config{}},
		{"not a URL", Config{Endpoints: []string{"http://[::1"}}},
		{"relative", Config{Endpoints: []string{"/aca"}}},
		{"ftp", Config{Endpoints: []string{"ftp://judge/"}}},
		{"duplicate", Config{Endpoints: []string{"http://judge:8080/", "http://JUDGE:8080/"}}},
		{"interval too short", Config{Endpoints: []string{"http://judge/"}, Interval: time.Millisecond}},
		{"negative interval", Config{Endpoints: []string{"http://judge/"}, Interval: -time.Second}},
		{"negative timeout", Config{Endpoints: []string{"http://judge/"}, Timeout: -1}},
		{"jitter 1", Config{Endpoints: []string{"http://judge/"}, Jitter: 1}},
		{"negative jitter", Config{Endpoints: []string{"http://judge/"}, Jitter: -0.1}},
		{"bad local", Config{Endpoints: []string{"http://judge/"}, Local: "e u"}},
		{"password not echoed", Config{Endpoints: []string{"http://u:hunter2@judge/", "http://u:hunter2@judge/"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if err == nil {
				_ = c.Close()
				t.Fatal("New accepted an invalid config")
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.HasPrefix(err.Error(), "aca: ") {
				t.Fatalf("error %v, want ErrInvalidConfig with aca: prefix", err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error leaks a password: %v", err)
			}
		})
	}
}

func TestNewFillsDefaultsAndCopies(t *testing.T) {
	eps := []string{"http://judge.invalid/"}
	c, err := New(Config{Endpoints: eps, Local: "EU"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	eps[0] = "http://changed.invalid/"
	got := c.Config()
	if got.Interval != DefaultInterval || got.Timeout != DefaultTimeout || got.Jitter != DefaultJitter {
		t.Errorf("defaults not filled: %+v", got)
	}
	if got.Local != "eu" || got.Endpoints[0] != "http://judge.invalid/" {
		t.Errorf("config not normalized or not copied: %+v", got)
	}
}

// Three endpoints, one of them down: the two that answer decide.
func TestClientOneOfThreeDown(t *testing.T) {
	a, b := newFakeACA(t, euBody), newFakeACA(t, euBody)
	c := newTestClient(t, Config{Endpoints: []string{a.URL, deadURL(t), b.URL}})
	if st := waitReady(t, c); !st.Equal(euState) {
		t.Fatalf("state %+v, want eu", st)
	}
	if err := c.LastError(); err != nil {
		t.Fatalf("LastError = %v, want nil: two of three configured agreeing is a quorum", err)
	}
	a.set(usBody)
	b.set(usBody)
	if st := refresh(t, c); !st.Equal(usState) {
		t.Fatalf("after both live endpoints flipped: %+v, want us", st)
	}
}

// The endpoints disagree: follow a state only when more than half of the
// configured endpoints report it; otherwise keep the current one.
func TestClientMajority(t *testing.T) {
	tests := []struct {
		name    string
		first   [3]string // bodies the endpoints start with ("" = down)
		then    [3]string // bodies after the change
		want    State     // state after the change; zero = none known
		wantErr error     // LastError after the change
	}{
		{"two eu one us", [3]string{euBody, euBody, euBody}, [3]string{euBody, usBody, euBody}, euState, nil},
		{"one outlier cannot flip", [3]string{euBody, euBody, euBody}, [3]string{usBody, euBody, euBody}, euState, nil},
		{"two us one eu flips", [3]string{euBody, euBody, euBody}, [3]string{usBody, euBody, usBody}, usState, nil},
		{"tie keeps current", [3]string{euBody, euBody, euBody}, [3]string{usBody, euBody, ""}, euState, ErrNoMajority},
		{"one answer of three is no quorum", [3]string{euBody, euBody, euBody}, [3]string{usBody, "", ""}, euState, ErrNoMajority},
		{"one answer of three at start knows nothing", [3]string{euBody, "", ""}, [3]string{euBody, "", ""}, State{}, ErrNoMajority},
		{"three-way split keeps current", [3]string{euBody, euBody, euBody},
			[3]string{usBody, euBody, `{"active":"ap","secondary":"eu"}`}, euState, ErrNoMajority},
		{"tie at start knows nothing", [3]string{usBody, euBody, ""}, [3]string{usBody, euBody, ""}, State{}, ErrNoMajority},
		{"same regions other epoch is another state", [3]string{euBody, euBody, euBody},
			[3]string{`{"active":"eu","secondary":"us","epoch":1}`, euBody, `{"active":"eu","secondary":"us","epoch":1}`},
			State{Active: "eu", Secondary: "us", Epoch: 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fakes [3]*fakeACA
			var urls []string
			for i, body := range tt.first {
				fakes[i] = newFakeACA(t, body)
				if body == "" {
					fakes[i].setFull(http.StatusServiceUnavailable, "text/plain", "down")
				}
				urls = append(urls, fakes[i].URL)
			}
			c := newTestClient(t, Config{Endpoints: urls})
			refresh := func() { _, _ = c.Refresh(testCtx(t)) }
			refresh() // settles the first round (shares it if it is under way)
			for i, body := range tt.then {
				if body == "" {
					fakes[i].setFull(http.StatusServiceUnavailable, "text/plain", "down")
				} else {
					fakes[i].set(body)
				}
			}
			refresh()
			got, ok := c.Current()
			if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
				t.Fatalf("Current = %+v, %v; want %+v", got, ok, tt.want)
			}
			if err := c.LastError(); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("LastError = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// Every endpoint down: the last state stays, Staleness grows, and the client
// never drops to "no active region".
func TestClientAllDownKeepsLastState(t *testing.T) {
	clk := newFakeClock()
	fakes := []*fakeACA{newFakeACA(t, euBody), newFakeACA(t, euBody), newFakeACA(t, euBody)}
	c := newTestClient(t, Config{Endpoints: []string{fakes[0].URL, fakes[1].URL, fakes[2].URL}}, WithClock(clk))
	waitReady(t, c)
	refresh(t, c) // confirm at the current fake time
	if s := c.Staleness(); s != 0 {
		t.Fatalf("Staleness right after a confirmation = %v, want 0", s)
	}

	fakes[0].setFull(http.StatusBadGateway, "text/html", "<html>502</html>")
	fakes[1].Close() // connection refused
	fakes[2].setFull(http.StatusServiceUnavailable, "application/json", `{"error":"down"}`)

	var prev time.Duration
	for i := range 3 {
		clk.Advance(2 * time.Second)
		st, err := c.Refresh(testCtx(t))
		if err != nil || !st.Equal(euState) {
			t.Fatalf("round %d: Refresh = %+v, %v; want the last state eu and no error", i, st, err)
		}
		if cur, ok := c.Current(); !ok || !cur.Equal(euState) {
			t.Fatalf("round %d: Current = %+v, %v; want eu", i, cur, ok)
		}
		s := c.Staleness()
		if s <= prev || s != time.Duration(i+1)*2*time.Second {
			t.Fatalf("round %d: Staleness = %v, want it to grow to %v", i, s, time.Duration(i+1)*2*time.Second)
		}
		prev = s
		if err := c.LastError(); !errors.Is(err, ErrAllEndpointsFailed) || !errors.Is(err, ErrEndpoint) {
			t.Fatalf("round %d: LastError = %v, want ErrAllEndpointsFailed wrapping EndpointErrors", i, err)
		}
	}
	var ee *EndpointError
	if err := c.LastError(); !errors.As(err, &ee) {
		t.Fatalf("LastError %v has no *EndpointError", err)
	}

	fakes[2].set(usBody)
	if st := refresh(t, c); !st.Equal(euState) || c.Staleness() != 6*time.Second || !errors.Is(c.LastError(), ErrNoMajority) {
		t.Fatalf("one of three back: %+v, staleness %v, LastError %v; want eu kept, 6s, ErrNoMajority (one answer is no quorum)", st, c.Staleness(), c.LastError())
	}
	fakes[0].set(usBody)
	if st := refresh(t, c); !st.Equal(usState) || c.Staleness() != 0 {
		t.Fatalf("after recovery: %+v, staleness %v; want us, 0", st, c.Staleness())
	}
}

// Bodies that are not an ACA state are refused and the last good state is
// kept.
func TestClientRefusesBadBodies(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantErr     error
	}{
		{"html error page", 200, "text/html; charset=utf-8", "<html><body>Service Unavailable</body></html>", ErrInvalidState},
		{"html labelled json", 200, "application/json", "<html><body>oops</body></html>", ErrInvalidState},
		{"empty 200", 200, "application/json", "", ErrInvalidState},
		{"oversized", 200, "application/json", `{"active":"us","pad":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, ErrBodyTooLarge},
		{"not json", 200, "text/plain", "active=us", ErrInvalidState},
		{"active equals secondary", 200, "application/json", `{"active":"us","secondary":"US"}`, ErrInvalidState},
		{"no active", 200, "application/json", `{"secondary":"eu"}`, ErrInvalidState},
		{"500 with a valid body", 500, "application/json", usBody, ErrEndpoint},
		{"503 with Retry-After", 503, "application/json", usBody, ErrEndpoint}, // the fake sends Retry-After: 3600
		{"404", 404, "text/html", "<html>not found</html>", ErrEndpoint},
		{"302 without location", 302, "", "", ErrEndpoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeACA(t, euBody)
			c := newTestClient(t, Config{Endpoints: []string{f.URL}})
			waitReady(t, c)
			f.setFull(tt.status, tt.contentType, tt.body)
			st, err := c.Refresh(testCtx(t))
			if err != nil || !st.Equal(euState) {
				t.Fatalf("Refresh = %+v, %v; want the last good state eu", st, err)
			}
			err = c.LastError()
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrAllEndpointsFailed) {
				t.Fatalf("LastError = %v, want %v", err, tt.wantErr)
			}
			var ee *EndpointError
			if !errors.As(err, &ee) || ee.Status != tt.status {
				t.Fatalf("LastError = %v, want an EndpointError with status %d", err, tt.status)
			}
		})
	}
}

// The client sends If-None-Match, reuses the endpoint's state on 304, and
// picks up a new body.
func TestClientETag(t *testing.T) {
	f := newFakeACA(t, euBody)
	c := newTestClient(t, Config{Endpoints: []string{f.URL}})
	waitReady(t, c)
	if st := refresh(t, c); !st.Equal(euState) {
		t.Fatalf("state %+v", st)
	}
	if f.notModified.Load() == 0 || f.lastINM.Load().(string) == "" {
		t.Fatalf("second poll sent no If-None-Match or got no 304 (304s: %d)", f.notModified.Load())
	}
	if err := c.LastError(); err != nil {
		t.Fatalf("a 304 must confirm the state: %v", err)
	}
	f.set(usBody)
	if st := refresh(t, c); !st.Equal(usState) {
		t.Fatalf("after the body changed: %+v, want us", st)
	}

	// A 304 to a request without If-None-Match has nothing to reuse.
	f.setFull(http.StatusOK, "application/json", "<html>")
	refresh(t, c)
	f.setFull(http.StatusNotModified, "", "")
	refresh(t, c)
	if err := c.LastError(); !errors.Is(err, ErrAllEndpointsFailed) {
		t.Fatalf("a 304 after an invalid body was taken as a state: LastError = %v", err)
	}
}

// With epochs, the client never goes back to an older one.
func TestClientEpochNeverGoesBack(t *testing.T) {
	f := newFakeACA(t, `{"active":"us","secondary":"eu","epoch":5}`)
	c := newTestClient(t, Config{Endpoints: []string{f.URL}})
	waitReady(t, c)
	f.set(`{"active":"eu","secondary":"us","epoch":4}`)
	if st := refresh(t, c); st.Active != "us" || st.Epoch != 5 {
		t.Fatalf("went back to an older epoch: %+v", st)
	}
	if err := c.LastError(); !errors.Is(err, ErrOlderEpoch) {
		t.Fatalf("LastError = %v, want ErrOlderEpoch", err)
	}
	f.set(`{"active":"eu","secondary":"us"}`) // dropping the epoch is going back too
	if st := refresh(t, c); st.Epoch != 5 {
		t.Fatalf("state without epoch replaced epoch 5: %+v", st)
	}
	f.set(`{"active":"eu","secondary":"us","epoch":6}`)
	if st := refresh(t, c); st.Active != "eu" || st.Epoch != 6 {
		t.Fatalf("newer epoch not followed: %+v", st)
	}
}

// A flip is seen within one poll interval; Refresh sees it at once.
func TestClientFlipTiming(t *testing.T) {
	t.Run("within one interval", func(t *testing.T) {
		const interval = 200 * time.Millisecond
		f := newFakeACA(t, euBody)
		c := newTestClient(t, Config{Endpoints: []string{f.URL}, Interval: interval, Timeout: 50 * time.Millisecond})
		ch := c.Watch(testCtx(t))
		waitReady(t, c)
		if st, _ := recvState(t, ch, testTimeout); !st.Equal(euState) {
			t.Fatalf("first state %+v", st)
		}
		// Flip right after a round, the worst case: the next one is a full
		// (jitter-shortened) interval away.
		f.hits.Store(0)
		eventually(t, testTimeout, "a poll", func() bool { return f.hits.Load() > 0 })
		start := time.Now()
		f.set(usBody)
		hits := f.hits.Load()
		st, _ := recvState(t, ch, testTimeout)
		took := time.Since(start)
		if !st.Equal(usState) {
			t.Fatalf("Watch delivered %+v, want us", st)
		}
		if n := f.hits.Load() - hits; n > 1 {
			t.Fatalf("flip seen after %d polls, want the first one after it", n)
		}
		// The slack covers the round and the scheduler of a busy -race
		// machine; a missed round would take twice the interval.
		if limit := interval + interval/2; took > limit {
			t.Fatalf("flip seen after %v, want within one interval (%v, plus %v slack)", took, interval, limit-interval)
		}
		t.Logf("flip seen after %v (interval %v)", took, interval)
	})
	t.Run("Refresh is immediate", func(t *testing.T) {
		f := newFakeACA(t, euBody)
		c := newTestClient(t, Config{Endpoints: []string{f.URL}, Interval: time.Hour})
		waitReady(t, c)
		f.set(usBody)
		if st, _ := c.Current(); !st.Equal(euState) {
			t.Fatalf("state changed without a poll: %+v", st)
		}
		start := time.Now()
		if st := refresh(t, c); !st.Equal(usState) {
			t.Fatalf("Refresh = %+v, want us", st)
		}
		t.Logf("Refresh took %v with a 1h interval", time.Since(start))
	})
}

func TestClientWatch(t *testing.T) {
	f := newFakeACA(t, euBody)
	c := newTestClient(t, Config{Endpoints: []string{f.URL}})
	waitReady(t, c)

	ctx, cancel := context.WithCancel(testCtx(t))
	ch := c.Watch(ctx)
	if st, ok := recvState(t, ch, testTimeout); !ok || !st.Equal(euState) {
		t.Fatalf("Watch did not start with the current state: %+v, %v", st, ok)
	}
	// A reader that does not keep up gets the latest state, and the poller
	// does not block on it.
	f.set(usBody)
	refresh(t, c)
	f.set(euBody)
	refresh(t, c)
	f.set(`{"active":"ap","secondary":"eu"}`)
	refresh(t, c)
	if st, _ := recvState(t, ch, testTimeout); st.Active != "ap" {
		t.Fatalf("slow reader got %+v, want the latest state (ap)", st)
	}
	select {
	case st := <-ch:
		t.Fatalf("unexpected extra state %+v", st)
	default:
	}
	// An unchanged round delivers nothing.
	refresh(t, c)
	select {
	case st := <-ch:
		t.Fatalf("a round without a change delivered %+v", st)
	default:
	}
	cancel()
	if _, ok := recvState(t, ch, testTimeout); ok {
		t.Fatal("channel not closed after its ctx ended")
	}
}

func TestClientWaitReady(t *testing.T) {
	f := newFakeACA(t, euBody)
	f.setFull(http.StatusServiceUnavailable, "text/html", "<html>starting</html>")
	c := newTestClient(t, Config{Endpoints: []string{f.URL}, Interval: 20 * time.Millisecond})
	if _, ok := c.Current(); ok {
		t.Fatal("Current reports a state before any was known")
	}
	if _, err := c.Active(); !errors.Is(err, ErrNoActiveRegion) {
		t.Fatalf("Active = %v, want ErrNoActiveRegion", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Millisecond)
	defer cancel()
	_, err := c.WaitReady(ctx)
	if !errors.Is(err, ErrNoActiveRegion) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady = %v, want ErrNoActiveRegion and DeadlineExceeded", err)
	}
	if _, err := c.Refresh(testCtx(t)); !errors.Is(err, ErrNoActiveRegion) || !errors.Is(err, ErrAllEndpointsFailed) {
		t.Fatalf("Refresh with nothing known = %v", err)
	}
	done := make(chan State, 1)
	go func() { st, _ := c.WaitReady(testCtx(t)); done <- st }()
	f.set(euBody)
	if st, _ := recvState(t, done, testTimeout); !st.Equal(euState) {
		t.Fatalf("WaitReady = %+v", st)
	}
}

func TestClientLocalIsActive(t *testing.T) {
	f := newFakeACA(t, euBody)
	c := newTestClient(t, Config{Endpoints: []string{f.URL}, Local: "EU"})
	waitReady(t, c)
	if ok, err := c.LocalIsActive(); err != nil || !ok {
		t.Fatalf("LocalIsActive = %v, %v; want true", ok, err)
	}
	f.set(usBody)
	refresh(t, c)
	if ok, err := c.LocalIsActive(); err != nil || ok {
		t.Fatalf("LocalIsActive = %v, %v; want false", ok, err)
	}
}

// A caller's cancelled Refresh does not cancel the shared round.
func TestClientRefreshCancelDoesNotKillRound(t *testing.T) {
	f := newFakeACA(t, euBody)
	c := newTestClient(t, Config{Endpoints: []string{f.URL}})
	waitReady(t, c)
	f.set(usBody)
	f.setDelay(80 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := c.Refresh(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Refresh = %v, want DeadlineExceeded", err)
	}
	eventually(t, testTimeout, "the shared round to apply us", func() bool {
		st, _ := c.Current()
		return st.Equal(usState)
	})
}

// Endpoint errors name the endpoint without its credentials or query.
func TestClientErrorsHideSecrets(t *testing.T) {
	u := strings.Replace(deadURL(t), "http://", "http://user:hunter2@", 1) + "/aca?token=s3cret"
	c := newTestClient(t, Config{Endpoints: []string{u}})
	_, err := c.Refresh(testCtx(t))
	if err == nil {
		t.Fatal("Refresh of a dead endpoint succeeded")
	}
	for _, secret := range []string{"hunter2", "s3cret", "user:"} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks %q: %v", secret, err)
		}
	}
	if !strings.Contains(err.Error(), "/aca") {
		t.Errorf("error does not name the endpoint: %v", err)
	}
}

// Close stops every goroutine, even with watchers and a round under way,
// and later calls report ErrClosed.
func TestClientClose(t *testing.T) {
	f, g := newFakeACA(t, euBody), newFakeACA(t, euBody)
	ignore := goleak.IgnoreCurrent()
	c, err := New(Config{Endpoints: []string{f.URL, g.URL, deadURL(t)}, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, c)
	chans := []<-chan State{c.Watch(t.Context()), c.Watch(context.Background())}
	f.setDelay(time.Second) // a round is stuck in flight when Close comes
	go func() { _, _ = c.Refresh(context.Background()) }()
	time.Sleep(20 * time.Millisecond)

	closed := make(chan struct{})
	go func() { _ = c.Close(); _ = c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(testTimeout):
		t.Fatal("Close did not return")
	}
	for i, ch := range chans {
		// At most the buffered state, then the close.
		if _, ok := recvState(t, ch, testTimeout); ok {
			if _, ok := recvState(t, ch, testTimeout); ok {
				t.Errorf("Watch channel %d still open after Close", i)
			}
		}
	}
	if _, err := c.Refresh(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Refresh after Close = %v, want ErrClosed", err)
	}
	if _, err := c.WaitReady(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitReady after Close = %v, want ErrClosed", err)
	}
	if _, ok := <-c.Watch(t.Context()); ok {
		t.Error("Watch after Close returned an open channel")
	}
	if st, ok := c.Current(); !ok || !st.Equal(euState) {
		t.Errorf("Current after Close = %+v, %v; want the last state", st, ok)
	}
	f.Close()
	goleak.VerifyNone(t, ignore)
}

// After a failed round the client tries again soon, backing off, instead of
// waiting a whole interval.
func TestClientRetriesSoonAfterFailure(t *testing.T) {
	f := newFakeACA(t, euBody)
	f.setFull(http.StatusServiceUnavailable, "text/plain", "warming up")
	c := newTestClient(t, Config{Endpoints: []string{f.URL}, Interval: time.Hour})
	eventually(t, testTimeout, "three failed polls", func() bool { return f.hits.Load() >= 3 })
	f.set(euBody)
	start := time.Now()
	if st := waitReady(t, c); !st.Equal(euState) {
		t.Fatalf("state %+v", st)
	}
	// The backoff doubles from 5ms; anything near the interval means no
	// retry happened.
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("recovered after %v with a 1h interval", took)
	}
	// Once confirmed, the client is back to its interval: no more polls.
	hits := f.hits.Load()
	time.Sleep(50 * time.Millisecond)
	if n := f.hits.Load(); n != hits {
		t.Fatalf("%d polls after the state was confirmed, want none before the interval", n-hits)
	}
}

// A Refresh never returns answers that were sent before it was called: it
// waits for the round under way and then for one of its own.
func TestClientRefreshIsNewerThanTheCall(t *testing.T) {
	f := newFakeACA(t, euBody)
	c := newTestClient(t, Config{Endpoints: []string{f.URL}})
	waitReady(t, c)
	f.setDelay(60 * time.Millisecond)
	hits := f.hits.Load()
	first := make(chan State, 1)
	go func() { st, _ := c.Refresh(testCtx(t)); first <- st }()
	eventually(t, testTimeout, "the first round to reach the server", func() bool { return f.hits.Load() > hits })
	f.set(usBody) // the region changes while that round is under way
	if st := refresh(t, c); !st.Equal(usState) {
		t.Fatalf("Refresh after the change = %+v, want us", st)
	}
	if st, _ := recvState(t, first, testTimeout); st.IsZero() {
		t.Fatal("the first Refresh got no state")
	}
}
