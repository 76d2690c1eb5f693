package aca

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// One judge spelled two ways must not get two votes (issue case 4).
func TestNewRefusesOneJudgeTwice(t *testing.T) {
	for _, eps := range [][]string{
		{"http://h:8080", "http://h:8080/"},
		{"http://H:8080/aca", "http://h:8080/aca"},
		{"HTTP://h/", "http://h:80/"},
		{"https://h/", "https://h:443"},
		{"http://h./", "http://h/"},
		{"http://u:p@h/", "http://h/?x=1"},
		{"http://[::1]:80/", "http://[::1]/"},
		{"http://a/", "http://b/", "http://A:80"},
	} {
		c, err := New(Config{Endpoints: eps})
		if err == nil {
			_ = c.Close()
			t.Errorf("New(%q) accepted one judge twice", eps)
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) || strings.Contains(err.Error(), ":p@") {
			t.Errorf("New(%q) = %v, want ErrInvalidConfig without the password", eps, err)
		}
	}
	// Different judges stay apart.
	for _, eps := range [][]string{
		{"http://h:8080/", "http://h:8081/"},
		{"http://h/", "https://h/"},
		{"http://h/a", "http://h/b"},
		{"http://h:443/", "https://h/"},
	} {
		c, err := New(Config{Endpoints: eps})
		if err != nil {
			t.Errorf("New(%q) = %v, want two judges", eps, err)
			continue
		}
		_ = c.Close()
	}
}

func TestTally(t *testing.T) {
	eu7 := State{Active: "eu", Secondary: "us", Epoch: 7}
	poison := State{Active: "us", Secondary: "eu", Epoch: math.MaxUint64}
	var none State
	for _, tc := range []struct {
		name    string
		cur     State
		known   bool
		answers []State
		want    State
		wantErr error
	}{
		{"3 of 3", none, false, []State{euState, euState, euState}, euState, nil},
		{"2 of 3", none, false, []State{euState, none, euState}, euState, nil},
		{"1 of 3 answered", none, false, []State{none, usState, none}, none, ErrNoMajority},
		{"1 of 3 with a lone epoch 2^64-1", eu7, true, []State{none, poison, none}, none, ErrNoMajority},
		{"2 of 4 is no quorum", euState, true, []State{usState, usState, euState, none}, none, ErrNoMajority},
		{"3 of 5", euState, true, []State{usState, usState, none, none, usState}, usState, nil},
		{"2 of 5", euState, true, []State{usState, usState, none, none, none}, none, ErrNoMajority},
		{"none answered", euState, true, []State{none, none, none}, none, ErrAllEndpointsFailed},
		{"quorum of an older epoch", eu7, true, []State{euState, euState, euState}, none, ErrOlderEpoch},
		{"regions ignore case", none, false, []State{{Active: "EU", Secondary: "us"}, euState, none}, State{Active: "EU", Secondary: "us"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tally(tc.cur, tc.known, tc.answers)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) || !got.Equal(tc.want) {
				t.Fatalf("tally = %+v, %v; want %+v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// Epoch poisoning (issue case 3): while two of three judges are down, one
// answer with epoch 2^64-1 is no quorum, so when all three agree on eu at
// epoch 7 the client follows eu.
func TestClientEpochPoisoning(t *testing.T) {
	a, b, p := newFakeACA(t, usBody), newFakeACA(t, usBody), newFakeACA(t, usBody)
	c := newTestClient(t, Config{Endpoints: []string{a.URL, b.URL, p.URL}})
	waitReady(t, c)
	a.setFull(http.StatusServiceUnavailable, "text/plain", "down")
	b.setFull(http.StatusServiceUnavailable, "text/plain", "down")
	p.set(`{"active": "us", "secondary": "eu", "epoch": 18446744073709551615}`)
	refresh(t, c)
	if st, _ := c.Current(); st.Epoch != 0 {
		t.Fatalf("a lone answer raised the epoch: %+v", st)
	}
	eu7 := `{"active": "eu", "secondary": "us", "epoch": 7}`
	a.set(eu7)
	b.set(eu7)
	p.set(eu7)
	if st := refresh(t, c); !st.Equal(State{Active: "eu", Secondary: "us", Epoch: 7}) {
		t.Fatalf("after all three agree on eu@7: %+v, LastError %v", st, c.LastError())
	}
}

// A confirmation is stamped with the start of its round: an answer may be
// as old as that (issue case 2). The judge takes 400ms (on the fake clock)
// to answer, so right after the round the state is 400ms old, not 0.
func TestStalenessFromRoundStart(t *testing.T) {
	clk := newFakeClock()
	slow := func(body string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			clk.Advance(200 * time.Millisecond) // the body is slow; two judges, 400ms
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(s.Close)
		return s
	}
	a, b := slow(euBody), slow(euBody)
	c := newTestClient(t, Config{Endpoints: []string{a.URL, b.URL}}, WithClock(clk))
	waitReady(t, c)
	if s := c.Staleness(); s != 400*time.Millisecond {
		t.Fatalf("Staleness right after the round = %v, want 400ms (from the round's start)", s)
	}
	if _, err := c.CurrentWithin(300 * time.Millisecond); !errors.Is(err, ErrStale) ||
		!strings.Contains(err.Error(), "400ms") || !strings.Contains(err.Error(), "300ms") {
		t.Fatalf("CurrentWithin(300ms) = %v, want ErrStale naming the age 400ms and the limit 300ms", err)
	}
	if st, err := c.CurrentWithin(time.Second); err != nil || !st.Equal(euState) {
		t.Fatalf("CurrentWithin(1s) = %+v, %v; want eu", st, err)
	}
}

func TestCurrentWithin(t *testing.T) {
	f := newFakeACA(t, euBody)
	f.setFull(http.StatusServiceUnavailable, "text/plain", "down")
	clk := newFakeClock()
	c := newTestClient(t, Config{Endpoints: []string{f.URL}}, WithClock(clk))
	if _, err := c.CurrentWithin(time.Hour); !errors.Is(err, ErrNoActiveRegion) {
		t.Fatalf("no state: CurrentWithin = %v, want ErrNoActiveRegion", err)
	}
	if _, err := c.CurrentWithin(0); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("CurrentWithin(0) = %v, want ErrInvalidConfig", err)
	}
	f.set(euBody)
	refresh(t, c)
	clk.Advance(2 * time.Second)
	if _, err := c.CurrentWithin(2 * time.Second); err != nil {
		t.Fatalf("at the limit: %v, want the state", err)
	}
	clk.Advance(time.Millisecond)
	if _, err := c.CurrentWithin(2 * time.Second); !errors.Is(err, ErrStale) || !strings.HasPrefix(err.Error(), "aca: ") {
		t.Fatalf("past the limit: %v, want ErrStale", err)
	}
}

// The client never follows a redirect (issue case 6): a 307 or 308 to
// another host or to http:// is refused, the target receives nothing, the
// judge is not asked twice, and the error names the target.
func TestClientRefusesRedirects(t *testing.T) {
	var stolen atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(usBody))
	}))
	defer other.Close()
	for _, tc := range []struct {
		name   string
		status int
		toHTTP bool
	}{
		{"307 other host", http.StatusTemporaryRedirect, false},
		{"308 other host", http.StatusPermanentRedirect, false},
		{"307 to http", http.StatusTemporaryRedirect, true},
		{"308 to http", http.StatusPermanentRedirect, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int64
			var judge *httptest.Server
			judge = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				to := other.URL + "/aca?token=x"
				if tc.toHTTP {
					to = strings.Replace(judge.URL, "https://", "http://", 1) + "/aca"
				}
				http.Redirect(w, r, to, tc.status)
			}))
			defer judge.Close()
			before := stolen.Load()
			c := newTestClient(t, Config{Endpoints: []string{judge.URL}}, WithHTTPClient(judge.Client()))
			if _, err := c.Refresh(testCtx(t)); !errors.Is(err, ErrNoActiveRegion) {
				t.Fatalf("Refresh = %v, want ErrNoActiveRegion", err)
			}
			var re *RedirectError
			var ee *EndpointError
			err := c.LastError()
			if !errors.As(err, &re) || !errors.As(err, &ee) {
				t.Fatalf("LastError = %v, want an EndpointError wrapping a *RedirectError", err)
			}
			if re.Status != tc.status || !strings.HasSuffix(re.To, "/aca") || strings.Contains(err.Error(), "token") {
				t.Fatalf("RedirectError = %+v (%v); want status %d, the target named, no query", re, err, tc.status)
			}
			if tc.toHTTP && !strings.HasPrefix(re.To, "http://") || !tc.toHTTP && !strings.HasPrefix(re.To, other.URL) {
				t.Fatalf("RedirectError.To = %s, want the target", re.To)
			}
			if n := stolen.Load() - before; n != 0 {
				t.Fatalf("the redirect target received %d requests", n)
			}
			// The first round (New's) and the Refresh: one request each,
			// no retry of a refused redirect.
			if n := hits.Load(); n > 2 {
				t.Fatalf("the judge was asked %d times in two rounds; a refused redirect must not be retried", n)
			}
		})
	}
}

// FuzzEndpoints: the endpoint check never panics, a URL it accepts is
// refused when listed twice, its normal form is a fixed point, and no error
// echoes a password.
func FuzzEndpoints(f *testing.F) {
	for _, s := range []string{"http://h:8080", "HTTP://H:80/", "https://[::1]:443/a", "http://u:p@h./?q#f",
		"http://h:8080/%2F", "https://judge.example/aca", "http://h:0/", "http://%41/", "http://h:/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, _, err := Config{Endpoints: []string{raw}}.normalize()
		if u, perr := url.Parse(raw); perr == nil && u.User != nil {
			if p, ok := u.User.Password(); ok && len(p) > 3 && err != nil && strings.Contains(err.Error(), p) {
				t.Fatalf("error echoes the password: %v", err)
			}
		}
		if err != nil {
			return
		}
		if _, _, err := (Config{Endpoints: []string{raw, raw}}).normalize(); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("%q twice accepted: %v", raw, err)
		}
		u, _ := url.Parse(raw)
		k := endpointKey(u)
		u2, err := url.Parse(k)
		if err != nil {
			t.Fatalf("normal form %q of %q does not parse: %v", k, raw, err)
		}
		if k2 := endpointKey(u2); k2 != k {
			t.Fatalf("normal form of %q is not a fixed point: %q then %q", raw, k, k2)
		}
	})
}
