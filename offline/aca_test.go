package offline_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/internal/testutil"
	"github.com/tandemfs/tandem/offline"
)

// TestStaleBoundWithACAClient runs the bound on the ACA state's age with
// the real *aca.Client: when every ACA endpoint fails, the client keeps
// its last state (static stability) but its Staleness grows, and once it
// passes Config.MaxStateAge reads are refused with aca.ErrStale and send
// nothing (the one Refresh fails too); when the endpoints answer again,
// reads go through.
func TestStaleBoundWithACAClient(t *testing.T) {
	var down atomic.Bool
	judge := func() *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if down.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"active":"eu","secondary":"us","epoch":1}`))
		}))
		t.Cleanup(s.Close)
		return s
	}
	j1, j2, j3 := judge(), judge(), judge()
	ac, err := aca.New(aca.Config{Endpoints: []string{j1.URL, j2.URL, j3.URL}, Interval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ac.Close() })
	ctx := ctxT(t, 30*time.Second)
	if _, err := ac.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// The env's servers and data; the client over them uses the real ACA
	// client and a bound of 300ms.
	e := newEnv(t, envOpts{})
	regions := []offline.RegionConfig{{ID: eu, Addr: e.srv[eu].Addr(), Insecure: true}, {ID: us, Addr: e.srv[us].Addr(), Insecure: true}}
	c, err := offline.New(offline.Config{Regions: regions, MaxStateAge: 300 * time.Millisecond, HealthcheckTimeout: time.Second}, ac,
		offline.WithQuerySource(e.queries))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	read := func() error {
		tbl, err := c.ReadBatchAll(ctx, testFV, testVersion, time.Time{}, time.Time{})
		if err == nil {
			tbl.Release()
		}
		return err
	}
	if err := read(); err != nil {
		t.Fatalf("read with a fresh state: %v", err)
	}

	down.Store(true)
	var staleErr error
	testutil.Eventually(t, 20*time.Second, "reads refused as stale", func() bool {
		before := e.srv[eu].Count() + len(e.queries.regions())
		err := read()
		if errors.Is(err, aca.ErrStale) {
			if after := e.srv[eu].Count() + len(e.queries.regions()); after != before {
				t.Errorf("a stale read sent %d requests", after-before)
			}
			staleErr = err
			return true
		}
		if err != nil {
			t.Fatalf("read while the ACA is down, before the bound: %v", err)
		}
		return false
	})
	if st, ok := ac.Current(); !ok || st.Active != eu {
		t.Errorf("the ACA client dropped its state: %+v, %v", st, ok)
	}
	if !strings.Contains(staleErr.Error(), `region "eu"`) {
		t.Errorf("message %q does not name the region", staleErr)
	}

	down.Store(false)
	testutil.Eventually(t, 20*time.Second, "reads again once the ACA answers", func() bool { return read() == nil })
	if n := e.srv[us].Count(); n != 0 {
		t.Errorf("standby got %d requests", n)
	}
}
