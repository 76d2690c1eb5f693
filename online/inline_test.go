package online

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/health"
)

// warmInline reads until the preferred server s0 reads on the caller's
// goroutine: enough fast samples and a refresh of the delays.
func warmInline(t *testing.T, s *Store, st *Stmt) {
	t.Helper()
	for i := range inlineMinSamples + 50 {
		if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{i%nRows + 1}, NoHedge()); err != nil {
			t.Fatal(err)
		}
	}
	// Keep reading while waiting: on a loaded machine the window needs a
	// few refreshes' worth of fast samples.
	waitFor(t, 10*time.Second, "s0 to read inline", func() bool {
		if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{1}, NoHedge()); err != nil {
			t.Fatal(err)
		}
		return s.servers[0].inline.Load()
	})
}

// TestInlineReadInterruptedByWinningHedge: on a rarely hedged server the
// first attempt runs on the caller's goroutine; when it stalls, the hedge
// to us wins and the stalled attempt is cut at once (the read does not
// wait for the stall), its connection is discarded, and eu serves the
// next reads on its other connections.
func TestInlineReadInterruptedByWinningHedge(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	cfg.Hedge.Delay = 20 * time.Millisecond
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	warmInline(t, s, st)
	before := s.Stats().Servers[0].Discarded

	c.servers[0].Proxy().SetStall(1, 500*time.Millisecond)
	start := time.Now()
	res, err := s.Query(ctxT(t, 5*time.Second), st, []any{7})
	el := time.Since(start)
	c.servers[0].Proxy().SetStall(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Region != "us" || !res.Hedged || res.Winner != 1 {
		t.Fatalf("served by %s hedged=%v attempt %d; want the hedge to us", res.Region, res.Hedged, res.Winner)
	}
	if el > 250*time.Millisecond {
		t.Fatalf("read took %v: the inline attempt was not interrupted (stall 500ms)", el)
	}
	if v := res.Rows[0].Values[0]; v[0] != int64(7) || v[3] != "s1" {
		t.Fatalf("row %v", v)
	}
	// The interrupted connection is gone, never back in the pool.
	waitFor(t, 5*time.Second, "the interrupted connection to be discarded", func() bool {
		return s.Stats().Servers[0].Discarded == before+1
	})
	for i := range 50 {
		res, err := s.Query(ctxT(t, 5*time.Second), st, []any{i + 1}, Pin("eu"))
		if err != nil || res.Region != "eu" {
			t.Fatalf("read %d after the interrupt: %+v %v", i, res, err)
		}
	}
	if d := s.Stats().Servers[0].Discarded; d != before+1 {
		t.Fatalf("%d connections discarded, want 1: a pooled connection was stopped", d-before)
	}
}

// TestInlineReadCallerDeadline: the caller's deadline ends an inline read
// at once, as with the plain driver, and no failover follows it.
func TestInlineReadCallerDeadline(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	cfg.Hedge.Delay = 10 * time.Second // no hedge by timer
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	warmInline(t, s, st)
	c.servers[0].Proxy().SetStall(1, 500*time.Millisecond)
	defer c.servers[0].Proxy().SetStall(0, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Query(ctx, st, []any{3})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the deadline", err)
	}
	if el := time.Since(start); el > 250*time.Millisecond {
		t.Fatalf("returned after %v; the deadline was 30ms", el)
	}
	// No attempt ran on us: the abandoned read started no failover.
	time.Sleep(20 * time.Millisecond)
	if n := s.servers[1].rs.Health.Latency().Snapshot(time.Now(), nil).Total(); n != 0 {
		t.Fatalf("%d attempts on us after the caller's deadline", n)
	}
}

// TestInlineOnlyOnRarelyHedgedServers: a server whose attempts often
// outlast the hedge delay reads through a worker again, where a loser
// keeps its connection.
func TestInlineOnlyOnRarelyHedgedServers(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	cfg.Hedge.Delay = 20 * time.Millisecond
	cfg.Health.FailureThreshold = 1 << 20
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	warmInline(t, s, st)
	c.servers[0].Proxy().SetStall(0.2, 60*time.Millisecond)
	defer c.servers[0].Proxy().SetStall(0, 0)
	waitFor(t, 10*time.Second, "s0 to stop reading inline", func() bool {
		if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{1}); err != nil {
			t.Fatal(err)
		}
		return !s.servers[0].inline.Load()
	})
}

func TestRarelyHedged(t *testing.T) {
	for _, tc := range []struct {
		name string
		snap *health.Snapshot
		want bool
	}{
		{"too few samples", snapOf(time.Millisecond, 100), false},
		{"fast", snapOf(500*time.Microsecond, 1000), true},
		{"1% slow", snapOf(500*time.Microsecond, 990, 20*time.Millisecond, 10), true},
		{"2% slow", snapOf(500*time.Microsecond, 980, 20*time.Millisecond, 20), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rarelyHedged(tc.snap, 5*time.Millisecond); got != tc.want {
				t.Fatalf("rarelyHedged = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSockStop: a stopped socket fails a blocked read at once, and a
// deadline the driver sets afterwards does not revive it.
func TestSockStop(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	s := &sock{Conn: a}
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		_, err := s.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	s.stop()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a read on a stopped socket succeeded")
		}
	case <-time.After(time.Second):
		t.Fatal("stop did not end a blocked read")
	}
	if err := s.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, errInterrupted) {
		t.Fatalf("read after stop: %v", err)
	}
	if _, err := s.Write([]byte{1}); !errors.Is(err, errInterrupted) {
		t.Fatalf("write after stop: %v", err)
	}
}

// TestInterruptorOnlyStopsAttachedSockets: fire before attach refuses the
// I/O; fire after detach stops nothing.
func TestInterruptorOnlyStopsAttachedSockets(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	s := &sock{Conn: a}
	pc := &pconn{sock: s}
	ir := &interruptor{}
	if !ir.attach(pc) {
		t.Fatal("attach refused before fire")
	}
	if ir.detach(pc) {
		t.Fatal("detach says stopped without a fire")
	}
	ir.fire()
	if s.stopped.Load() {
		t.Fatal("fire stopped a detached socket")
	}
	if ir.attach(pc) {
		t.Fatal("attach accepted after fire")
	}
	ir2 := &interruptor{}
	ir2.attach(pc)
	ir2.fire()
	if !s.stopped.Load() || !ir2.detach(pc) {
		t.Fatal("fire did not stop an attached socket")
	}
}

// TestWorkersOnly: with Hedge.WorkersOnly, first attempts stay on workers however
// fast the server is.
func TestWorkersOnly(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	cfg.Hedge.WorkersOnly = true
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	for i := range inlineMinSamples + 50 {
		if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{i%nRows + 1}, NoHedge()); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * refreshTick)
	if s.servers[0].inline.Load() {
		t.Fatal("s0 reads inline with WorkersOnly set")
	}
}

// TestUnsupportedArgumentType: an argument the driver cannot send is a
// typed, fatal error: no failover to the other region, nothing retried.
func TestUnsupportedArgumentType(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	// The first read dials (nothing is warmed before use); on a loaded
	// machine a hedge could reach us first and answer with the same error.
	cfg.Hedge.Delay = 10 * time.Second
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	for _, arg := range []any{struct{ A int }{1}, map[string]int{"a": 1}, make(chan int), []int{1}} {
		res, err := s.Query(ctxT(t, 5*time.Second), st, []any{arg})
		if !errors.Is(err, ErrArgType) || IsRetryable(err) {
			t.Fatalf("arg %T: res %+v err %v, want a non-retryable ErrArgType", arg, res, err)
		}
		var re *RegionError
		if !errors.As(err, &re) || re.Region != "eu" {
			t.Fatalf("arg %T: %v is not eu's RegionError: the error failed over", arg, err)
		}
	}
	// The pool is fine afterwards.
	if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{int32(5)}); err != nil {
		t.Fatal(err)
	}
}

// TestInlineReadWaitingForAConnection: an inline attempt that waits for a
// connection of an exhausted pool (all held, as by reads stuck on a
// blackholed server) is cut short too when the hedge wins.
func TestInlineReadWaitingForAConnection(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	cfg.Hedge.Delay = 20 * time.Millisecond
	cfg.MaxOpenConns, cfg.MinIdleConns = 1, 1
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	warmInline(t, s, st)
	p := s.servers[0].pool
	held, err := p.acquire(ctxT(t, 5*time.Second), time.Now().Add(5*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	release := time.AfterFunc(time.Second, func() { p.release(held) })
	defer func() {
		if release.Stop() {
			p.release(held)
		}
	}()
	start := time.Now()
	res, err := s.Query(ctxT(t, 5*time.Second), st, []any{4})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 250*time.Millisecond || res.Region != "us" {
		t.Fatalf("read took %v, served by %s: the wait for eu's pool was not cut short", el, res.Region)
	}
}

// TestInlineBlackholeEjects: reads on the caller's goroutine that hedges
// outrun count against the server, so a blackholed server is ejected
// after a few reads, as fast as by soft failures on workers.
func TestInlineBlackholeEjects(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("eu", "eu", "us")
	// A fixed delay well above a loaded machine's jitter, so eu reads
	// inline in time (the adaptive one stays off inline under heavy load,
	// rightly).
	cfg.Hedge.Delay = 20 * time.Millisecond
	s := newStore(t, cfg)
	st := mustPrepare(t, s, qSingle)
	warmInline(t, s, st)
	c.servers[0].Proxy().SetBlackhole(true)
	defer c.servers[0].Proxy().SetBlackhole(false)
	start := time.Now()
	for i := 0; serverState(s, "s0").String() != "ejected"; i++ {
		if time.Since(start) > 2*time.Second {
			t.Fatal("eu not ejected 2s into the blackhole")
		}
		rs := time.Now()
		res, err := s.Query(ctxT(t, 5*time.Second), st, []any{i%nRows + 1})
		if err != nil {
			t.Fatalf("read %d failed: %v", i, err)
		}
		if el := time.Since(rs); el > 250*time.Millisecond || res.Region != "us" {
			t.Fatalf("read %d took %v from %s", i, el, res.Region)
		}
	}
	if el := time.Since(start); el > 250*time.Millisecond {
		t.Fatalf("eu ejected %v into the blackhole; want about 100ms", el)
	}
	t.Logf("ejected after %v", time.Since(start))
}

// TestSchemaChangeUnderAPreparedStatement: a statement prepared on the
// Store's connections keeps decoding right after its table gains a
// column (the server re-prepares it; the cached decode plan follows).
func TestSchemaChangeUnderAPreparedStatement(t *testing.T) {
	c := startCluster(t, 2)
	for _, q := range []string{
		"CREATE TABLE tandem.sc (id BIGINT PRIMARY KEY, a INT)",
		"INSERT INTO tandem.sc VALUES (1, 10)",
	} {
		if err := c.servers[0].Exec(ctxT(t, 5*time.Second), q); err != nil {
			t.Fatal(err)
		}
	}
	cfg := c.config("eu", "eu")
	cfg.AllowAnySelect = true // SELECT * is not a Hopsworks shape
	s := newStore(t, cfg)
	st := mustPrepare(t, s, "SELECT * FROM tandem.sc WHERE id = ?")
	read := func() []any {
		t.Helper()
		res, err := s.Query(ctxT(t, 5*time.Second), st, []any{1})
		if err != nil || len(res.Rows[0].Values) != 1 {
			t.Fatalf("res %+v err %v", res, err)
		}
		return res.Rows[0].Values[0]
	}
	if row := read(); len(row) != 2 || row[1] != int64(10) {
		t.Fatalf("row %v", row)
	}
	if err := c.servers[0].Exec(ctxT(t, 5*time.Second), "ALTER TABLE tandem.sc ADD COLUMN b VARCHAR(8) NOT NULL DEFAULT 'x'"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if row := read(); len(row) != 3 || row[1] != int64(10) || row[2] != "x" {
			t.Fatalf("row after ALTER: %#v", row)
		}
	}
}
