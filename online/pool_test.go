package online

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/internal/hedge"
	"github.com/tandemfs/tandem/internal/mariadbtest"
	"github.com/tandemfs/tandem/region"
)

// TestExhaustedPoolLosersGiveUpAtTheirDeadline: with one connection per
// server and a local server that stalls every request, hedged reads leave
// their local attempts waiting for that connection. Each wait ends by its
// attempt's deadline, and Close returns within AttemptTimeout plus a
// little, not after every queued loser has had its turn (issue: 20 losers
// made Close take 4 s with AttemptTimeout 500 ms).
func TestExhaustedPoolLosersGiveUpAtTheirDeadline(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	cfg.MaxOpenConns, cfg.MinIdleConns = 1, 1
	cfg.AttemptTimeout = 500 * time.Millisecond
	cfg.Hedge.Delay = 5 * time.Millisecond
	cfg.Hedge.Budget = BudgetConfig{Ratio: 1, MaxTokens: 1000, MaxConcurrent: 100}
	cfg.Health.FailureThreshold = 1 << 20 // eu stays preferred however slow
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = s.Close()
		}
	}()
	st := mustPrepare(t, s, qSingle)
	if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{1}); err != nil {
		t.Fatal(err)
	}
	c.servers[0].Proxy().SetStall(1, 3*time.Second)
	defer c.servers[0].Proxy().SetStall(0, 0)
	for i := range 20 {
		res, err := s.Query(ctxT(t, 5*time.Second), st, []any{i + 1})
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if res.Region != "us" {
			t.Fatalf("read %d served by %s; the stalled eu cannot answer", i, res.Region)
		}
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	el := time.Since(start)
	t.Logf("Close took %v with AttemptTimeout %v", el, cfg.AttemptTimeout)
	// Slack for a loaded 2-core machine under -race.
	if el > cfg.AttemptTimeout+time.Second {
		t.Fatalf("Close took %v; every loser must give up by its AttemptTimeout of %v", el, cfg.AttemptTimeout)
	}
	eu := s.servers[0].pool.stats()
	if eu.inUse != 0 || len(s.servers[0].pool.waiters) != 0 {
		t.Fatalf("eu pool after Close: %+v, %d waiters", eu, len(s.servers[0].pool.waiters))
	}
}

// TestTrickleEndedByTheAttemptDeadline: a server that sends its reply one
// byte every 100 ms satisfies every per-read socket deadline; the
// attempt's own deadline still ends the read after AttemptTimeout.
func TestTrickleEndedByTheAttemptDeadline(t *testing.T) {
	c := startCluster(t, 1)
	cfg := c.config("eu", "eu")
	cfg.AttemptTimeout = 400 * time.Millisecond
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{1}); err != nil {
		t.Fatal(err)
	}
	c.servers[0].Proxy().SetTrickle(100 * time.Millisecond)
	defer c.servers[0].Proxy().SetTrickle(0)
	start := time.Now()
	// The reply is well over 100 bytes: trickled, it takes over 10 s.
	_, err := s.Query(ctxT(t, 30*time.Second), st, []any{2})
	el := time.Since(start)
	if err == nil {
		t.Fatalf("a trickled read succeeded after %v", el)
	}
	if !IsRetryable(err) {
		t.Fatalf("err %v: a timeout is retryable", err)
	}
	var re *RegionError
	if !errors.As(err, &re) || re.Server != "s0" {
		t.Fatalf("err %v is not s0's RegionError", err)
	}
	t.Logf("trickled read ended after %v: %v", el, err)
	if el > cfg.AttemptTimeout+time.Second {
		t.Fatalf("trickled read took %v; AttemptTimeout is %v", el, cfg.AttemptTimeout)
	}
	if d := s.Stats().Servers[0].Discarded; d == 0 {
		t.Fatal("the timed-out connection went back to the pool")
	}
}

// TestStatementBoundAfter10000Batches: batches of random sizes prepare a
// few padded forms per statement, and each connection's cache bounds
// them, so the server's Prepared_stmt_count stays within MaxOpenConns ×
// MaxStmtsPerConn and matches what Stats reports.
func TestStatementBoundAfter10000Batches(t *testing.T) {
	c := startCluster(t, 1)
	cfg := c.config("eu", "eu")
	cfg.MaxBatchKeys = 64   // forms 1, 2, 4, 8, 16, 32, 64
	cfg.MaxStmtsPerConn = 5 // fewer than the forms: the cache evicts
	cfg.MaxOpenConns, cfg.MinIdleConns = 4, 4
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qBatch)
	const batches, workers = 10000, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for b := range batches / workers {
				// Mostly one chunk; every 50th batch spans two.
				n := 1 + rng.IntN(cfg.MaxBatchKeys)
				if b%50 == 0 {
					n += cfg.MaxBatchKeys
				}
				keys := make([][]any, n)
				want := map[int64]bool{}
				for i := range keys {
					k := 1 + rng.IntN(nRows)
					keys[i] = []any{k, time.Date(2026, 1, 1+k%28, 0, 0, 0, 0, time.UTC)}
					want[int64(k)] = true
				}
				calls, err := st.Batch(keys)
				if err != nil {
					errs <- err
					return
				}
				res, err := s.QueryGroup(ctxT(t, 10*time.Second), calls)
				if err != nil {
					errs <- err
					return
				}
				got := map[int64]bool{}
				for _, r := range res.Rows {
					for _, v := range r.Values {
						got[v[0].(int64)] = true
					}
				}
				if len(got) != len(want) {
					errs <- fmt.Errorf("%d keys (%d distinct) gave %d rows", n, len(want), len(got))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", c.servers[0].DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name, value string
	if err := db.QueryRowContext(ctxT(t, 5*time.Second), "SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'").Scan(&name, &value); err != nil {
		t.Fatal(err)
	}
	onServer, err := strconv.Atoi(value)
	if err != nil {
		t.Fatal(err)
	}
	bound := cfg.MaxOpenConns * cfg.MaxStmtsPerConn
	held := s.Stats().Statements
	t.Logf("after %d batches: %d statements on the server, %d held by the Store, bound %d", batches, onServer, held, bound)
	if onServer > bound {
		t.Fatalf("%d prepared statements on the server; the bound is %d", onServer, bound)
	}
	if int64(onServer) != held {
		t.Fatalf("the server holds %d statements, Stats says %d", onServer, held)
	}
}

func TestBatchForm(t *testing.T) {
	for _, tc := range []struct{ n, limit, want int }{
		{1, 200, 1}, {2, 200, 2}, {3, 200, 4}, {64, 200, 64}, {65, 200, 128}, {129, 200, 200}, {200, 200, 200}, {5, 4, 4},
	} {
		if got := batchForm(tc.n, tc.limit); got != tc.want {
			t.Errorf("batchForm(%d, %d) = %d, want %d", tc.n, tc.limit, got, tc.want)
		}
	}
}

// TestPerServerErrorsLeaveTheReadToTheLocalServer: an error that is about
// the hedge target (its credentials, its schema, its limits) fails only
// that attempt and counts against that server; the local server, slower
// but healthy, still serves the read.
func TestPerServerErrorsLeaveTheReadToTheLocalServer(t *testing.T) {
	// A server started with max_user_connections 0 refuses to set it.
	c := startClusterOpts(t, 2, mariadbtest.Options{Proxy: true, Args: []string{"--max-user-connections=1000"}})
	us := c.servers[1]
	exec := func(t *testing.T, q ...string) {
		t.Helper()
		// Not the test's context: cleanups run after it is cancelled.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := us.Exec(ctx, q...); err != nil {
			t.Fatal(err)
		}
	}
	exec(t,
		"CREATE USER 'lim'@'%' IDENTIFIED BY 'pw'", "GRANT SELECT ON tandem.* TO 'lim'@'%'",
		"CREATE USER 'lim1'@'%' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 1", "GRANT SELECT ON tandem.* TO 'lim1'@'%'")
	// hold keeps one connection of user straight to us (not through the
	// proxy) for the test's life.
	hold := func(t *testing.T, user string) {
		t.Helper()
		mc := mysql.NewConfig()
		mc.User, mc.Passwd, mc.Net, mc.Addr = user, "pw", "tcp", us.Addr()
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(conn)
		cn, err := db.Conn(ctxT(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cn.Close(); _ = db.Close() })
	}
	usAs := func(user, pw, db string) ServerConfig {
		mc := us.MySQLConfig(db)
		mc.User, mc.Passwd = user, pw
		return ServerConfig{Name: "s1", MySQL: mc}
	}
	for _, tc := range []struct {
		code  uint16
		us    ServerConfig // zero: the default
		setup func(t *testing.T)
	}{
		{1045, usAs("root", "wrong", ""), nil},
		{1049, usAs("root", "", "nosuchdb"), nil},
		{1146, ServerConfig{}, func(t *testing.T) {
			exec(t, "RENAME TABLE tandem.fg_1 TO tandem.fg_1_away")
			t.Cleanup(func() { exec(t, "RENAME TABLE tandem.fg_1_away TO tandem.fg_1") })
		}},
		{1203, usAs("lim", "pw", ""), func(t *testing.T) {
			exec(t, "SET GLOBAL max_user_connections = 1")
			t.Cleanup(func() { exec(t, "SET GLOBAL max_user_connections = 1000") })
			hold(t, "lim")
		}},
		{1226, usAs("lim1", "pw", ""), func(t *testing.T) { hold(t, "lim1") }},
		{1461, ServerConfig{}, func(t *testing.T) {
			exec(t, "SET GLOBAL max_prepared_stmt_count = 0")
			t.Cleanup(func() { exec(t, "SET GLOBAL max_prepared_stmt_count = 16382") })
		}},
	} {
		t.Run(strconv.Itoa(int(tc.code)), func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(t)
			}
			cfg := c.config("eu", "eu", "us")
			if tc.us.MySQL != nil {
				cfg.Regions[1].Servers[0] = tc.us
			}
			cfg.Hedge.Delay = 5 * time.Millisecond
			cfg.Health.FailureThreshold = 1 // one failure ejects: proves it counted
			// The stalled eu must not fail by slowness on a loaded machine.
			cfg.Hedge.SoftMin, cfg.Hedge.SoftMax = 2*time.Second, 2*time.Second
			s := newStore(t, cfg)
			st := mustPrepare(t, s, qSingle)
			if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{1}, Pin("eu")); err != nil {
				t.Fatal(err)
			}
			c.servers[0].Proxy().SetStall(1, 30*time.Millisecond)
			defer c.servers[0].Proxy().SetStall(0, 0)
			res, err := s.Query(ctxT(t, 5*time.Second), st, []any{2})
			if err != nil {
				t.Fatalf("the read failed: %v", err)
			}
			if res.Region != "eu" || res.Attempts != 2 || !res.Hedged {
				t.Fatalf("result %+v; want eu after a hedge to us (stats %+v)", res, s.Stats())
			}
			// The losing us attempt may still be finishing.
			waitFor(t, 5*time.Second, fmt.Sprintf("us to be ejected: its error %d must count against it", tc.code), func() bool {
				return s.Stats().Servers[1].Ejections > 0
			})
			// The error itself is what the test meant to provoke.
			_, err = s.Query(ctxT(t, 5*time.Second), st, []any{3}, Pin("us"))
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != tc.code {
				t.Fatalf("a read pinned to us: %v, want error %d", err, tc.code)
			}
		})
	}
}

// TestErrorClasses: every per-server code fails over (Transient), and
// statement errors end the read (Fatal). 1129 (host blocked) is only
// checked here: MariaDB's host cache did not block a loopback client in
// this harness.
func TestErrorClasses(t *testing.T) {
	for _, code := range []uint16{1045, 1049, 1146, 1129, 1203, 1226, 1461, 1040, 2013} {
		err := &RegionError{Region: "us", Server: "s1", Op: "query", Err: &mysql.MySQLError{Number: code}}
		if classify(err) != hedge.Transient {
			t.Errorf("%d is classed as the statement's fault", code)
		}
	}
	// A session the server would not make read-only fails that server
	// only, even when the SET came back with a syntax error.
	notRO := fmt.Errorf("%w: SET SESSION TRANSACTION READ ONLY: %w", ErrNotReadOnly, &mysql.MySQLError{Number: 1064})
	if classify(notRO) != hedge.Transient {
		t.Errorf("a server that refuses read-only sessions ends the read")
	}
	if IsRetryable(notRO) {
		t.Errorf("a server that refuses read-only sessions is retryable: only an operator fixes it")
	}
	for _, code := range []uint16{1064, 1054, 1052, 1142, 1292} {
		if classify(&mysql.MySQLError{Number: code}) != hedge.Fatal {
			t.Errorf("%d is not classed as the statement's fault", code)
		}
	}
}

// TestNoIOUntilUsed: New dials nothing and starts nothing; Warm fills the
// pools to MinIdleConns and prepares the known statements; Close after
// that leaves nothing running (goleak checks the goroutines).
func TestNoIOUntilUsed(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	cfg.Hedge.Delay = 10 * time.Second // the last read is about locality, not hedging
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	time.Sleep(3 * probeTick) // the old loop warmed every pool on its first tick
	for i, srv := range c.servers {
		if n := srv.Proxy().Stats().Accepted; n != 0 {
			t.Fatalf("server %d accepted %d connections before the Store was used", i, n)
		}
	}
	if s.used.Load() {
		t.Fatal("the background loop runs before the Store was used")
	}
	if err := s.Warm(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, ss := range s.Stats().Servers {
		// Open, not Idle: the background loop may hold one for a ping.
		if ss.Open < 4 || ss.Statements < 4 {
			t.Fatalf("%s after Warm: %d open, %d statements; want MinIdleConns (4) of each", ss.Name, ss.Open, ss.Statements)
		}
	}
	res, err := s.Query(ctxT(t, 5*time.Second), st, []any{1})
	if err != nil || res.Region != "eu" {
		t.Fatalf("res %+v err %v", res, err)
	}
}

// TestPoolWaiterHandOff: a connection released while another attempt waits
// goes to that waiter; a waiter whose deadline passes leaves the queue.
func TestPoolWaiterHandOff(t *testing.T) {
	c := startCluster(t, 1)
	cfg := c.config("eu", "eu")
	cfg.MaxOpenConns = 1
	s := newStore(t, cfg)
	p := s.servers[0].pool
	ctx := ctxT(t, 5*time.Second)
	a, err := p.acquire(ctx, time.Now().Add(5*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.acquire(ctx, time.Now().Add(30*time.Millisecond), nil); !errors.Is(err, errAcquireTimeout) {
		t.Fatalf("acquire on an exhausted pool: %v, want errAcquireTimeout", err)
	}
	got := make(chan *pconn, 1)
	go func() {
		b, err := p.acquire(ctx, time.Now().Add(5*time.Second), nil)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	waitFor(t, 5*time.Second, "the waiter to queue", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.waiters) == 1
	})
	p.release(a)
	b := <-got
	if b != a {
		t.Fatal("the waiter did not get the released connection")
	}
	stop := make(chan struct{})
	close(stop)
	if _, err := p.acquire(ctx, time.Now().Add(5*time.Second), func() <-chan struct{} { return stop }); !errors.Is(err, errInterrupted) {
		t.Fatalf("interrupted wait: %v", err)
	}
	p.release(b)
	if st := p.stats(); st.open != 1 || st.idle != 1 || st.inUse != 0 || st.opened != 1 {
		t.Fatalf("pool %+v, want one idle connection", st)
	}
}

// TestTopologyIsASnapshot: the topology a caller gets is a copy; changing
// it ejects nothing.
func TestTopologyIsASnapshot(t *testing.T) {
	s, err := New(Config{Local: "eu", Regions: []RegionConfig{
		{ID: "eu", Servers: []ServerConfig{{Name: "a", Addr: "127.0.0.1:1"}}},
		{ID: "us", Servers: []ServerConfig{{Name: "b", Addr: "127.0.0.1:1"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	top := s.Topology()
	if top.Local != "eu" || len(top.Regions) != 2 || top.Regions[1].ID != "us" || top.Regions[0].Servers[0].Name != "a" {
		t.Fatalf("topology %+v", top)
	}
	top.Regions[0].Servers[0].State = region.Ejected
	if st := s.Topology().Regions[0].Servers[0].State; st != region.Healthy {
		t.Fatalf("the store's server is %v after changing a snapshot", st)
	}
}

// TestTrimClosesIdleConnectionsBeyondMinIdle: after a burst, connections
// beyond MinIdleConns that sat idle longer than ConnMaxIdleTime are closed,
// the least recently used first, and the server sees their sessions end;
// MinIdleConns stay, and so does one used recently.
func TestTrimClosesIdleConnectionsBeyondMinIdle(t *testing.T) {
	c := startCluster(t, 1)
	cfg := c.config("eu", "eu")
	cfg.MinIdleConns = 2
	cfg.ConnMaxIdleTime = time.Hour // trimmed by hand below, not by the loop
	s := newStore(t, cfg)
	p := s.servers[0].pool
	ctx := ctxT(t, 10*time.Second)
	admin, err := sql.Open("mysql", c.servers[0].DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	admin.SetMaxOpenConns(1) // its own session counts once, always
	threads := func() int {
		var name string
		var n int
		if err := admin.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Threads_connected'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := threads()
	var held []*pconn
	for range 6 {
		pc, err := p.acquire(ctx, time.Now().Add(5*time.Second), nil)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, pc)
	}
	for _, pc := range held {
		p.release(pc)
	}
	if got := threads() - before; got != 6 {
		t.Fatalf("%d sessions after the burst, want 6", got)
	}
	if n := p.trim(time.Now()); n != 0 {
		t.Fatalf("trim closed %d connections idle for less than ConnMaxIdleTime", n)
	}
	// The most recently released connection was used just now; the other
	// five an hour ago.
	for _, pc := range held[:5] {
		pc.idleAt = time.Now().Add(-2 * time.Hour)
	}
	if n := p.trim(time.Now()); n != 4 {
		t.Fatalf("trim closed %d connections, want 4 (6 open, 2 kept as MinIdleConns)", n)
	}
	if st := p.stats(); st.open != 2 || st.idle != 2 {
		t.Fatalf("pool %+v after trim, want 2 open and idle", st)
	}
	waitFor(t, 5*time.Second, "the server to see 4 sessions end", func() bool { return threads()-before == 2 })
	if _, err := s.Query(ctx, mustPrepare(t, s, qSingle), []any{1}); err != nil {
		t.Fatalf("read after trim: %v", err)
	}
}

// TestPoolAdapt: the number of connections kept open follows the peaks
// in use (plus a quarter, at least 2), falls back by one per tick, and
// stays within [MinIdleConns, MaxOpenConns].
func TestPoolAdapt(t *testing.T) {
	p := &pool{max: 40, minIdle: 4}
	burst := func(n int) {
		for range n {
			p.took()
		}
		p.inUse.Add(-int64(n))
	}
	for _, step := range []struct {
		burst, want int
	}{
		{0, 4},   // idle: MinIdleConns
		{1, 4},   // 1 + 2 < 4
		{16, 20}, // 16 + 4
		{0, 19},  // falls by one per tick
		{0, 18},
		{8, 17},  // 8 + 2 = 10 < 18 - 1
		{60, 40}, // capped by MaxOpenConns
	} {
		burst(step.burst)
		if got := p.adapt(); got != step.want {
			t.Fatalf("after a burst of %d: want %d open, got %d", step.burst, step.want, got)
		}
	}
	// Connections still in use at the tick count towards the next peak.
	p = &pool{max: 40, minIdle: 4}
	for range 10 {
		p.took()
	}
	if got := p.adapt(); got != 12 {
		t.Fatalf("10 in use: want 12, got %d", got)
	}
	if got := p.adapt(); got != 12 {
		t.Fatalf("10 still in use on the next tick: want 12, got %d", got)
	}
}

// TestFillPrimesBeforeIdle: connections that fill dials reach the idle
// list only after prime ran on them, so no read takes one whose statements
// are still to prepare; one that prime fails on is discarded.
func TestFillPrimesBeforeIdle(t *testing.T) {
	c := startCluster(t, 1)
	cfg := c.config("eu", "eu")
	cfg.MinIdleConns = 3
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	p := s.servers[0].pool
	ctx := ctxT(t, 10*time.Second)
	gate := make(chan struct{})
	primed := make(chan struct{}, 3)
	done := make(chan error, 1)
	go func() {
		done <- p.fill(ctx, 5*time.Second, func(pc *pconn, deadline time.Time) error {
			primed <- struct{}{}
			<-gate
			pc.begin(deadline)
			defer pc.end()
			_, err := pc.stmt(ctx, st)
			return err
		})
	}()
	for range 3 {
		<-primed
	}
	if pc := p.tryIdle(); pc != nil {
		t.Fatal("a connection went idle before prime ran on it")
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for range 3 {
		pc := p.tryIdle()
		if pc == nil || !pc.has(st) {
			t.Fatalf("idle connection %v without the primed statement", pc)
		}
		defer p.release(pc)
	}
	// A failing prime: the connections are closed, none stays open.
	p2 := s.servers[0].pool
	p2.mu.Lock()
	p2.minIdle = 5
	p2.mu.Unlock()
	err := p2.fill(ctx, 5*time.Second, func(*pconn, time.Time) error { return errors.New("prime failed") })
	if err == nil {
		t.Fatal("fill hid prime's error")
	}
	if st := p2.stats(); st.open != 3 || st.discarded != 2 {
		t.Fatalf("after a failing prime: %+v, want the 3 earlier open and 2 discarded", st)
	}
}

// TestUnprimedConnectionsReadiedWithinATick: a connection released
// without every statement of the Store (here: a statement prepared after
// the pool warmed) makes the background loop prepare the missing ones on
// the idle connections within a tick or two, not at the next warm-up a
// second later.
func TestUnprimedConnectionsReadiedWithinATick(t *testing.T) {
	c := startCluster(t, 1)
	cfg := c.config("eu", "eu")
	cfg.MinIdleConns = 2
	s := newStore(t, cfg)
	ctx := ctxT(t, 10*time.Second)
	st1 := mustPrepare(t, s, qSingle)
	if err := s.Warm(ctx); err != nil {
		t.Fatal(err)
	}
	st2 := mustPrepare(t, s, qOther)
	start := time.Now()
	if _, err := s.Query(ctx, st1, []any{1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "every idle connection to hold both statements", func() bool {
		p := s.servers[0].pool
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, pc := range p.idle {
			if !pc.has(st1) || !pc.has(st2) {
				return false
			}
		}
		return len(p.idle) >= 2
	})
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("readied after %v; want within a few ticks of %v, not the %v warm-up", d, primeTick, warmTick)
	}
}

// TestWarmPingsOneConnection: a warm-up of a pool whose connections
// already hold every statement costs one round trip (a ping on one
// connection), not one per connection: on a remote pool each ping holds a
// connection out of reach of hedges for a round trip.
func TestWarmPingsOneConnection(t *testing.T) {
	c := startCluster(t, 1)
	cfg := c.config("eu", "eu")
	cfg.MinIdleConns = 6
	s := newStore(t, cfg)
	mustPrepare(t, s, qSingle)
	ctx := ctxT(t, 10*time.Second)
	srv := s.servers[0]
	if err := s.warmServer(ctx, srv); err != nil {
		t.Fatal(err)
	}
	before := c.servers[0].Proxy().Stats().Requests
	if err := s.warmServer(ctx, srv); err != nil {
		t.Fatal(err)
	}
	if n := c.servers[0].Proxy().Stats().Requests - before; n != 1 {
		t.Fatalf("a warm-up of a ready pool of 6 sent %d requests, want 1 ping", n)
	}
}
