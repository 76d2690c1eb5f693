package online

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func TestQueryDecodesTypes(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	// The first read dials and prepares on a cold pool; on a loaded
	// machine that can outlast the adaptive delay's 10 ms ceiling, and a
	// hedge from us is right then. This test is about decoding and the
	// local preference, so no hedge fires on the timer.
	cfg.Hedge.Delay = 10 * time.Second
	cfg.AllowAnySelect = true // qTypes is not a Hopsworks shape
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qTypes)
	res, err := s.Query(ctxT(t, 5*time.Second), st, []any{int64(7)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Region != "eu" || res.Server != "s0" || res.Hedged {
		t.Fatalf("served by %s/%s hedged=%v, want eu/s0 unhedged", res.Region, res.Server, res.Hedged)
	}
	if len(res.Rows) != 1 || len(res.Rows[0].Values) != 1 {
		t.Fatalf("rows %+v", res.Rows)
	}
	row := res.Rows[0].Values[0]
	want := []any{int64(7), 7.5, "v7", []byte{1, 2}, time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC), Decimal("7.25"), nil, uint64(18446744073709551615)}
	for i, w := range want {
		switch wv := w.(type) {
		case []byte:
			if g, ok := row[i].([]byte); !ok || string(g) != string(wv) {
				t.Errorf("col %s = %#v, want %#v", res.Rows[0].Columns[i], row[i], w)
			}
		case time.Time:
			if g, ok := row[i].(time.Time); !ok || !g.Equal(wv) {
				t.Errorf("col %s = %#v, want %v", res.Rows[0].Columns[i], row[i], w)
			}
		default:
			if row[i] != w {
				t.Errorf("col %s = %#v (%T), want %#v (%T)", res.Rows[0].Columns[i], row[i], row[i], w, w)
			}
		}
	}
	// A missing key is no rows, not an error.
	res, err = s.Query(ctxT(t, 5*time.Second), st, []any{int64(nRows + 5)})
	if err != nil || len(res.Rows[0].Values) != 0 {
		t.Fatalf("missing key: %v rows, err %v", res.Rows, err)
	}
}

func TestHedgeFiresWhenPreferredStalls(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	cfg.Hedge.Delay = 5 * time.Millisecond
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	// Warm the eu pool, then stall every eu request by 300 ms.
	if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{1}); err != nil {
		t.Fatal(err)
	}
	c.servers[0].Proxy().SetStall(1, 300*time.Millisecond)
	start := time.Now()
	res, err := s.Query(ctxT(t, 5*time.Second), st, []any{2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Region != "us" || !res.Hedged || res.Attempts != 2 || res.Winner != 1 {
		t.Fatalf("got %s hedged=%v attempts=%d, want the us hedge to win", res.Region, res.Hedged, res.Attempts)
	}
	if el := time.Since(start); el > 200*time.Millisecond {
		t.Fatalf("hedged read took %v; the stall is 300ms", el)
	}
	if got := res.Rows[0].Values[0][3]; got != "s1" {
		t.Fatalf("row from %v, want s1", got)
	}
}

func TestTransientErrorFailsOverAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(c *cluster)
	}{
		{"refused dial", func(c *cluster) {
			if err := c.servers[0].Proxy().SetRefuse(true); err != nil {
				t.Fatal(err)
			}
			c.servers[0].Proxy().ResetAll()
		}},
		{"reset", func(c *cluster) {
			c.servers[0].Proxy().ResetAll()
			if err := c.servers[0].Kill(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, 2)
			cfg := c.config("eu", "eu", "us")
			cfg.Hedge.Delay = 2 * time.Second // only a failover can be fast
			s := newStore(t, cfg)
			st := mustPrepare(t, s, qSingle)
			if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{1}); err != nil {
				t.Fatal(err)
			}
			tc.fault(c)
			start := time.Now()
			res, err := s.Query(ctxT(t, 5*time.Second), st, []any{2})
			if err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el > time.Second {
				t.Fatalf("failover took %v; it must not wait for the 2s hedge delay", el)
			}
			if res.Region != "us" || res.Hedged {
				t.Fatalf("served by %s hedged=%v, want a failover to us", res.Region, res.Hedged)
			}
		})
	}
}

func TestFatalErrorsDoNotHedge(t *testing.T) {
	c := startCluster(t, 2)
	if err := c.servers[0].Exec(ctxT(t, 5*time.Second), "GRANT SELECT ON tandem.fg2_1 TO 'nobody'@'%'"); err != nil {
		t.Fatal(err)
	}
	cfg := c.config("eu", "eu", "us")
	// No hedge can fire by timer: a second attempt (on us) could only
	// come from a failover, which a statement error must not trigger.
	cfg.Hedge.Delay = 10 * time.Second
	cfg.AllowAnySelect = true // statements that fail on the server
	s := newStore(t, cfg)
	for _, tc := range []struct {
		name string
		q    string
		code uint16
		s    *Store
	}{
		{"unknown column", "SELECT nosuch FROM tandem.fg_1 WHERE id = ?", 1054, s},
		{"ambiguous column", "SELECT id FROM tandem.fg_1 AS a, tandem.fg_1 AS b WHERE a.id = ?", 1052, s},
		{"syntax", "SELECT id FROM tandem.fg_1 WHERE id = ? ORDER", 1064, s},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := mustPrepare(t, tc.s, tc.q)
			_, err := tc.s.Query(ctxT(t, 5*time.Second), st, []any{1})
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != tc.code {
				t.Fatalf("err %v, want MySQL error %d reachable with errors.As", err, tc.code)
			}
			var re *RegionError
			if !errors.As(err, &re) || re.Region != "eu" {
				t.Fatalf("err %v is not a RegionError from eu: the error failed over", err)
			}
			if IsRetryable(err) {
				t.Fatal("a statement error must not be retryable")
			}
		})
	}
	t.Run("access denied", func(t *testing.T) {
		cfg := c.config("eu", "eu", "us")
		cfg.User, cfg.Password = "nobody", "pw"
		cfg.Hedge.Delay = 10 * time.Second
		s2 := newStore(t, cfg)
		st := mustPrepare(t, s2, qSingle) // fg_1: no grant
		_, err := s2.Query(ctxT(t, 5*time.Second), st, []any{1})
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1142 {
			t.Fatalf("err %v, want 1142 (SELECT command denied)", err)
		}
	})
	// Fatal errors do not count against health.
	for _, ss := range s.Stats().Servers {
		if ss.State.String() != "healthy" {
			t.Fatalf("%s is %v after statement errors", ss.Name, ss.State)
		}
	}
}

func TestBudgetCapsHedges(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	cfg.Hedge.Delay = time.Millisecond
	cfg.Hedge.Budget.Ratio = 0.1
	cfg.Hedge.Budget.MaxTokens = 3
	cfg.Hedge.Budget.ReservePerSecond = 1
	cfg.Health.FailureThreshold = 1 << 20 // keep eu preferred however slow
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{1}); err != nil {
		t.Fatal(err)
	}
	c.servers[0].Proxy().SetStall(1, 20*time.Millisecond)
	const n = 100
	hedged := 0
	start := time.Now()
	for i := range n {
		res, err := s.Query(ctxT(t, 5*time.Second), st, []any{i%nRows + 1})
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if res.Hedged {
			hedged++
		}
	}
	el := time.Since(start).Seconds()
	limit := 3 + int(0.1*n) + int(el) + 1
	if hedged > limit {
		t.Fatalf("%d of %d reads hedged in %.1fs; the budget allows about %d", hedged, n, el, limit)
	}
	if hedged < 5 {
		t.Fatalf("only %d hedges; the budget should have allowed about %d", hedged, limit)
	}
}

func TestLosersKeepTheirConnections(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	cfg.Hedge.Delay = time.Millisecond
	cfg.Hedge.Budget.Ratio = 1
	cfg.Hedge.Budget.MaxTokens = 1000
	cfg.Health.FailureThreshold = 1 << 20
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	c.servers[0].Proxy().SetStall(0.5, 5*time.Millisecond)
	hedged := 0
	for i := range 1000 {
		res, err := s.Query(ctxT(t, 5*time.Second), st, []any{i%nRows + 1})
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if res.Hedged {
			hedged++
		}
	}
	if hedged < 300 {
		t.Fatalf("only %d of 1000 reads hedged; the test needs many losers", hedged)
	}
	var discarded int64
	for _, ss := range s.Stats().Servers {
		discarded += ss.Discarded
	}
	t.Logf("1000 reads, %d hedged, %d pooled connections discarded", hedged, discarded)
	if discarded > 5 {
		t.Fatalf("%d connections discarded; losers must finish and return theirs", discarded)
	}
}

// load runs workers that read in a loop until stop is closed, counting
// reads per region and failures.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	byRegion   map[string]int64
	lastEU     atomic.Int64 // unix nanos of the last read served by eu
	errs       []error
	wg         sync.WaitGroup
	stop       chan struct{}
}

func startLoad(t *testing.T, s *Store, st *Stmt, workers int, timeout time.Duration) *load {
	l := &load{byRegion: map[string]int64{}, stop: make(chan struct{})}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				res, err := s.Query(ctx, st, []any{(w*7919+i)%nRows + 1})
				cancel()
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.errs) < 5 {
						l.errs = append(l.errs, err)
					}
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
				if res.Region == "eu" {
					l.lastEU.Store(time.Now().UnixNano())
				}
				l.mu.Lock()
				l.byRegion[string(res.Region)]++
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *load) halt() { close(l.stop); l.wg.Wait() }

func TestFailoverWhenLocalServerIsKilled(t *testing.T) {
	c := startCluster(t, 2)
	c.servers[1].Proxy().SetLatency(5 * time.Millisecond) // us is remote
	s := newStore(t, c.config("eu", "eu", "us"))
	st := mustPrepare(t, s, qSingle)
	l := startLoad(t, s, st, 4, 2*time.Second)
	time.Sleep(500 * time.Millisecond)
	if err := c.servers[0].Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "eu to be ejected", func() bool { return serverState(s, "s0").String() == "ejected" })
	time.Sleep(5 * time.Second)
	if err := c.servers[0].Restart(ctxT(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	waitFor(t, 3*time.Second, "traffic back on eu", func() bool { return l.lastEU.Load() > restarted.UnixNano() })
	back := time.Since(restarted)
	time.Sleep(200 * time.Millisecond)
	l.halt()
	t.Logf("reads: %d ok, %d failed, by region %v; eu back %v after restart", l.ok.Load(), l.failed.Load(), l.byRegion, back)
	if f := l.failed.Load(); f != 0 {
		t.Fatalf("%d lookups failed while us was alive: %v", f, l.errs)
	}
	if back > 1500*time.Millisecond {
		t.Fatalf("traffic came back to eu %v after its restart; want about 1s at most", back)
	}
	if l.byRegion["us"] == 0 {
		t.Fatal("no read was served by us while eu was down")
	}
}

func TestBlackholedLocalRegion(t *testing.T) {
	c := startCluster(t, 2)
	const remote = 5 * time.Millisecond
	c.servers[1].Proxy().SetLatency(remote)
	cfg := c.config("eu", "eu", "us")
	cfg.MaxOpenConns = 8
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	readHistory(t, s, st) // a latency history for both regions
	c.servers[0].Proxy().SetBlackhole(true)
	blackholed := time.Now()
	var maxLat atomic.Int64
	l := &load{byRegion: map[string]int64{}, stop: make(chan struct{})}
	for w := range 4 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; i < 100; i++ {
				start := time.Now()
				res, err := s.Query(ctxT(t, 3*time.Second), st, []any{(w*31+i)%nRows + 1})
				d := time.Since(start)
				if err != nil {
					l.failed.Add(1)
					continue
				}
				for {
					m := maxLat.Load()
					if int64(d) <= m || maxLat.CompareAndSwap(m, int64(d)) {
						break
					}
				}
				l.mu.Lock()
				l.byRegion[string(res.Region)]++
				l.mu.Unlock()
			}
		}()
	}
	waitFor(t, time.Second, "eu to be ejected", func() bool { return serverState(s, "s0").String() == "ejected" })
	ejectedAfter := time.Since(blackholed)
	l.wg.Wait()
	open := c.servers[0].Proxy().Stats().Open
	t.Logf("blackhole: ejected after %v; max lookup %v; by region %v; %d connections open to eu", ejectedAfter, time.Duration(maxLat.Load()), l.byRegion, open)
	if f := l.failed.Load(); f != 0 {
		t.Fatalf("%d lookups failed while us was alive", f)
	}
	if ejectedAfter > 300*time.Millisecond {
		t.Fatalf("eu ejected after %v; want ~100ms (soft failures, not timeouts)", ejectedAfter)
	}
	// Bound: the hedge delay (≤ Ceiling) plus the remote latency, with
	// slack for a loaded 2-core machine under -race.
	if m := time.Duration(maxLat.Load()); m > cfg.normalizedCeiling()+remote+150*time.Millisecond {
		t.Fatalf("max lookup %v during the blackhole", m)
	}
	if open > int64(cfg.MaxOpenConns)+2 {
		t.Fatalf("%d connections open to the blackholed server; the cap is %d (+ probes)", open, cfg.MaxOpenConns)
	}
	// Recovery: lift the blackhole; eu takes traffic again quickly.
	c.servers[0].Proxy().SetBlackhole(false)
	lifted := time.Now()
	waitFor(t, 2*time.Second, "eu to take traffic again", func() bool {
		res, err := s.Query(ctxT(t, 3*time.Second), st, []any{1})
		return err == nil && res.Region == "eu"
	})
	t.Logf("eu back %v after the blackhole lifted", time.Since(lifted))
}

func (c Config) normalizedCeiling() time.Duration {
	n, _ := c.normalize()
	return n.Hedge.Ceiling
}

func TestLocalHedgeBeforeRemote(t *testing.T) {
	c := startCluster(t, 3)
	c.servers[2].Proxy().SetLatency(20 * time.Millisecond)
	cfg := c.config("eu", "eu", "eu", "us")
	cfg.Hedge.Delay = 2 * time.Millisecond
	cfg.Health.FailureThreshold = 1 << 20 // keep s0 in play to prove the hedge
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	c.servers[0].Proxy().SetStall(1, 200*time.Millisecond)
	by := map[string]int{}
	hedged := 0
	for i := range 60 {
		res, err := s.Query(ctxT(t, 5*time.Second), st, []any{i + 1})
		if err != nil {
			t.Fatal(err)
		}
		by[res.Server]++
		if res.Hedged {
			hedged++
		}
	}
	t.Logf("served by %v, %d hedged", by, hedged)
	if by["s2"] != 0 {
		t.Fatalf("%d reads went to the remote region; the local hedge should win", by["s2"])
	}
	if by["s0"] != 0 || hedged == 0 {
		t.Fatalf("stalled server s0 answered %d reads; hedged %d", by["s0"], hedged)
	}
}

func TestGroupIsServedByOneServer(t *testing.T) {
	c := startCluster(t, 2)
	c.servers[1].Proxy().SetLatency(3 * time.Millisecond)
	cfg := c.config("eu", "eu", "us")
	cfg.Hedge.Delay = time.Millisecond
	cfg.Hedge.Budget.Ratio = 1
	s := newStore(t, cfg)
	a, b := mustPrepare(t, s, qSingle), mustPrepare(t, s, qOther)
	c.servers[0].Proxy().SetStall(0.2, 30*time.Millisecond)
	mixed, hedged := 0, 0
	for i := range 150 {
		k := i%nRows + 1
		res, err := s.QueryGroup(ctxT(t, 5*time.Second), []Call{
			{Stmt: a, Args: []any{k}},
			{Stmt: b, Args: []any{k, time.Date(2026, 1, 1+k%28, 0, 0, 0, 0, time.UTC)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Hedged {
			hedged++
		}
		if len(res.Rows[0].Values) != 1 || len(res.Rows[1].Values) != 1 {
			t.Fatalf("key %d: rows %v / %v", k, res.Rows[0].Values, res.Rows[1].Values)
		}
		if res.Rows[0].Values[0][3] != res.Rows[1].Values[0][1] {
			mixed++
		}
	}
	t.Logf("150 vectors, %d hedged, %d mixed", hedged, mixed)
	if mixed != 0 {
		t.Fatalf("%d vectors mixed rows from two servers", mixed)
	}
	if hedged == 0 {
		t.Fatal("no vector was hedged; the test proves nothing")
	}
}

func TestBatch(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	cfg.MaxBatchKeys = 40
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qBatch)
	if !st.IsBatch() || st.KeyWidth() != 2 {
		t.Fatalf("batch %v width %d", st.IsBatch(), st.KeyWidth())
	}
	var keys [][]any
	for k := 1; k <= 100; k++ {
		keys = append(keys, []any{k, time.Date(2026, 1, 1+k%28, 0, 0, 0, 0, time.UTC)})
	}
	keys = append(keys, []any{99999, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}) // missing
	calls, err := st.Batch(keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 3 {
		t.Fatalf("%d chunks, want 3 of ≤40", len(calls))
	}
	res, err := s.QueryGroup(ctxT(t, 5*time.Second), calls)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]float64{}
	for _, r := range res.Rows {
		for _, v := range r.Values {
			got[v[0].(int64)] = v[2].(float64)
		}
	}
	if len(got) != 100 || got[42] != 42 {
		t.Fatalf("got %d rows (want 100), row 42 = %v", len(got), got[42])
	}
	if _, err := st.Batch([][]any{{1}}); !errors.Is(err, ErrArgCount) {
		t.Fatalf("short key: %v", err)
	}
}

func TestNoTimedHedgeToAnEjectedRegion(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	cfg.Hedge.Delay = time.Millisecond
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	if err := c.servers[0].Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "eu to be ejected", func() bool {
		_, _ = s.Query(ctxT(t, 3*time.Second), st, []any{1})
		return serverState(s, "s0").String() == "ejected"
	})
	// us is slower than the 1 ms hedge delay; eu is dead and ejected: no
	// read may hedge to it on the timer.
	c.servers[1].Proxy().SetLatency(5 * time.Millisecond)
	for i := range 20 {
		res, err := s.Query(ctxT(t, 3*time.Second), st, []any{i + 1})
		if err != nil {
			t.Fatal(err)
		}
		if res.Region != "us" || res.Hedged {
			t.Fatalf("read %d: %s hedged=%v; a hedge went to the ejected region", i, res.Region, res.Hedged)
		}
	}
}

func TestWarmPoolServesTheFirstRemoteHedgeInOneRoundTrip(t *testing.T) {
	c := startCluster(t, 2)
	const remote = 30 * time.Millisecond
	c.servers[1].Proxy().SetLatency(remote)
	cfg := c.config("eu", "eu", "us")
	cfg.Hedge.Delay = time.Millisecond
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{1}); err != nil {
		t.Fatal(err)
	}
	// The background loop warms us's pool and prepares the statement on
	// its connections; no read has gone to us yet.
	var us ServerStats
	waitFor(t, 5*time.Second, "us to be warm with the statement prepared", func() bool {
		us = s.Stats().Servers[1]
		return us.Idle >= 4 && us.Statements >= 4
	})
	c.servers[0].Proxy().SetStall(1, 500*time.Millisecond)
	start := time.Now()
	res, err := s.Query(ctxT(t, 5*time.Second), st, []any{2})
	if err != nil || res.Region != "us" {
		t.Fatalf("res %+v err %v", res, err)
	}
	// One remote round trip (plus the 1 ms delay); a cold connection
	// would add a dial and a handshake, an unprepared one a second trip.
	if el := time.Since(start); el > remote+remote/2+10*time.Millisecond {
		t.Fatalf("first remote hedge took %v; want about one %v round trip", el, remote)
	}
}

// TestSoftTimerWithoutHedgeBudget: the first attempt's soft-failure timer
// is armed only when its hedge timer fires (hedge.DueNotifier), and it
// must be armed whether or not the budget lets the hedge go. With a
// budget that refuses every hedge, a blackholed eu is still ejected by
// soft failures, long before AttemptTimeout ends its attempts.
func TestSoftTimerWithoutHedgeBudget(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	cfg.AttemptTimeout = 5 * time.Second
	cfg.Hedge.Budget = BudgetConfig{Ratio: 1e-9, ReservePerSecond: 1e-9, MaxTokens: 1e-9}
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	readHistory(t, s, st)
	c.servers[0].Proxy().SetBlackhole(true)
	blackholed := time.Now()
	var wg sync.WaitGroup
	suppressed := make(chan bool, 4)
	for w := range 4 {
		wg.Go(func() {
			res, err := s.Query(ctxT(t, 10*time.Second), st, []any{w + 1})
			if err != nil {
				t.Error(err)
				return
			}
			suppressed <- res.Suppressed && !res.Hedged
		})
	}
	waitFor(t, 4*time.Second, "eu to be ejected", func() bool { return serverState(s, "s0").String() == "ejected" })
	after := time.Since(blackholed)
	c.servers[0].Proxy().SetBlackhole(false)
	wg.Wait()
	close(suppressed)
	for sup := range suppressed {
		if !sup {
			t.Fatal("a read was hedged: the budget should have refused every hedge")
		}
	}
	t.Logf("ejected %v after the blackhole, every hedge refused", after)
	if after > time.Second {
		t.Fatalf("eu ejected after %v: the soft timers did not fire (AttemptTimeout is %v)", after, cfg.AttemptTimeout)
	}
}

// readHistory runs 300 reads of st, so the Store has a latency history
// (the adaptive delay and the soft threshold need 200 samples).
func readHistory(t *testing.T, s *Store, st *Stmt) {
	t.Helper()
	for i := range 300 {
		if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{i%nRows + 1}); err != nil {
			t.Fatal(err)
		}
	}
}
