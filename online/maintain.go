package online

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/internal/health"
)

// Background cadence. Probes are checked often because recovery must be
// noticed within about 200 ms (docs/ARCHITECTURE.md#hedging); the check is
// cheap (an atomic load per server).
const (
	probeTick   = 10 * time.Millisecond
	refreshTick = 100 * time.Millisecond
	warmTick    = time.Second
	primeTick   = 100 * time.Millisecond
)

func (s *Store) maintain() {
	defer s.wg.Done()
	t := time.NewTicker(probeTick)
	defer t.Stop()
	var lastRefresh, lastWarm time.Time
	var snap, recent health.Snapshot
	logged := make([]int64, len(s.servers))
	lastPrime := make([]time.Time, len(s.servers))
	for {
		now := s.clock.Now()
		beaten := false
		for i, srv := range s.servers {
			if n := srv.softEjects.Load(); n != logged[i] {
				logged[i] = n
				s.ejected(srv, "slow attempts")
			}
			if srv.rs.Health.ProbeDue(now) {
				s.wg.Add(1)
				go s.probe(srv)
			}
			if srv.beaten.Swap(false) {
				beaten = true
			}
			// A connection lacks some of the statements: ready the idle
			// ones now (warmServer), not at the next warm tick; at most
			// every primeTick, since a statement that fails to prepare
			// there (a table not replicated yet) keeps the flag set.
			if srv.pool.unprimed.Load() && now.Sub(lastPrime[i]) >= primeTick && srv.rs.Health.Available() && srv.warming.CompareAndSwap(false, true) {
				lastPrime[i] = now
				srv.pool.unprimed.Store(false)
				s.wg.Add(1)
				go s.warm(srv)
			}
		}
		if beaten || now.Sub(lastRefresh) >= refreshTick {
			lastRefresh = now
			s.refreshDelays(now, &snap, &recent)
		}
		if now.Sub(lastWarm) >= warmTick {
			lastWarm = now
			for _, srv := range s.servers {
				srv.pool.adapt()
				srv.pool.trim(time.Now())
				if srv.rs.Health.Available() && srv.warming.CompareAndSwap(false, true) {
					s.wg.Add(1)
					go s.warm(srv)
				}
			}
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refreshDelays recomputes every server's adaptive hedge delay and soft
// failure threshold from its latency window.
func (s *Store) refreshDelays(now time.Time, snap, recent *health.Snapshot) {
	h := s.cfg.Hedge
	for _, srv := range s.servers {
		srv.rs.Health.Latency().Snapshot(now, snap)
		srv.softNs.Store(int64(softThreshold(snap, h)))
		if h.Delay <= 0 {
			// The hedge after an attempt here goes to another server of
			// the same region if there is one, otherwise to the nearest
			// other region: use that target's round trip.
			rtt := s.hedgeTargetRTT(srv)
			srv.targetRTTNs.Store(int64(rtt))
			d := adaptiveDelay(snap, rtt, h)
			srv.recent.Snapshot(now, recent)
			srv.hedgeNs.Store(int64(min(d, onsetDelay(recent, rtt, h))))
		}
		srv.inline.Store(!h.WorkersOnly && !h.CancelLosers && rarelyHedged(snap, time.Duration(srv.hedgeNs.Load())))
	}
}

// Reads on the caller's goroutine (conn.go) pay a connection for every
// hedge that wins against them. They are used on a server only while its
// recent attempts say hedges are rare: at least inlineMinSamples of them,
// and at most inlineMaxTail running past the hedge delay.
const (
	inlineMinSamples = 200
	inlineMaxTail    = 0.01
)

func rarelyHedged(snap *health.Snapshot, delay time.Duration) bool {
	n := snap.Total()
	return n >= inlineMinSamples && float64(snap.Tail(delay)) <= inlineMaxTail*float64(n)
}

func (s *Store) hedgeTargetRTT(srv *server) time.Duration {
	best := time.Duration(-1)
	consider := func(o *server) {
		if o == srv {
			return
		}
		if r := time.Duration(o.rttNs.Load()); r > 0 && (best < 0 || r < best) {
			best = r
		}
	}
	for _, rs := range s.topo.RegionServers(srv.rs.Region) {
		consider(s.servers[rs.Index])
	}
	if best > 0 {
		return best
	}
	for _, o := range s.servers {
		if o.rs.Region != srv.rs.Region {
			consider(o)
		}
	}
	if best > 0 {
		return best
	}
	return 0
}

// warm keeps MinIdleConns connections open on srv, measures its round
// trip with a ping on one of them and prepares the Store's statements on
// them. Without warm connections a hedge pays for a dial and a handshake:
// 2–3 remote round trips (docs/ARCHITECTURE.md#hedging).
func (s *Store) warm(srv *server) {
	defer s.wg.Done()
	defer srv.warming.Store(false)
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DialTimeout)
	defer cancel()
	_ = s.warmServer(ctx, srv)
}

// warmServer fills srv's pool to MinIdleConns, takes a round-trip sample
// and prepares the Store's single statements on the idle connections
// that lack them. It returns the first error.
func (s *Store) warmServer(ctx context.Context, srv *server) error {
	timeout := s.cfg.DialTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	s.stmtMu.Lock()
	stmts := make([]*Stmt, 0, len(s.stmts))
	for _, st := range s.stmts {
		if !st.IsBatch() {
			stmts = append(stmts, st)
		}
	}
	s.stmtMu.Unlock()
	if len(stmts) > s.cfg.MaxStmtsPerConn {
		stmts = stmts[:s.cfg.MaxStmtsPerConn]
	}
	// New connections get the statements before any read can take them:
	// a hedge that lands on a connection still to prepare its statement
	// waits one more round trip to the remote region (S2 at 2 workers:
	// such vectors took 45 ms rather than 25).
	prime := func(pc *pconn, deadline time.Time) error {
		pc.begin(deadline)
		defer pc.end()
		for _, st := range stmts {
			if _, err := pc.stmt(ctx, st); err != nil {
				return err
			}
		}
		return nil
	}
	if err := srv.pool.fill(ctx, timeout, prime); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	// Visit each idle connection once: tryIdle hands out the least
	// recently used, and release puts it back as the most recent. Only
	// the first is pinged (a round trip each would hold every connection
	// of a remote pool out of reach of hedges for one), and the first
	// error ends the visit: a statement that fails to prepare on one
	// connection (a table not replicated there yet) fails on all.
	pinged := false
	for range srv.pool.stats().idle {
		pc := srv.pool.tryIdle()
		if pc == nil {
			break
		}
		pc.begin(deadline)
		var err error
		if !pinged {
			pinged = true
			start := time.Now()
			if err = pc.ping(ctx); err == nil {
				s.noteRTT(srv, time.Since(start))
			}
		}
		for _, st := range stmts {
			if err != nil {
				break
			}
			if !pc.has(st) {
				_, err = pc.stmt(ctx, st)
			}
		}
		pc.end()
		srv.pool.release(pc)
		if err != nil {
			return err
		}
	}
	return nil
}

// Warm dials every available server's pool up to MinIdleConns, measures
// its round trip and prepares the statements known so far on its
// connections, all servers concurrently. It returns the servers' errors
// joined. Calling it is optional: reads warm the pools in the background
// from their first use.
func (s *Store) Warm(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.use()
	errs := make([]error, len(s.servers))
	var wg sync.WaitGroup
	for i, srv := range s.servers {
		if !srv.rs.Health.Available() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Take the server's warming turn, so a background warm in
			// progress finishes first and this one sees its connections.
			for !srv.warming.CompareAndSwap(false, true) {
				select {
				case <-ctx.Done():
					errs[i] = ctx.Err()
					return
				case <-time.After(time.Millisecond):
				}
			}
			defer srv.warming.Store(false)
			if err := s.warmServer(ctx, srv); err != nil {
				errs[i] = &RegionError{Region: srv.rs.Region, Server: srv.rs.Name, Op: "warm", Err: err}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("online: warm: %w", err)
	}
	return nil
}

func (s *Store) noteRTT(srv *server, d time.Duration) {
	old := srv.rttNs.Load()
	if old == 0 {
		srv.rttNs.Store(int64(d))
		return
	}
	// EWMA with weight 1/4: steady, yet a moved region shows within a few
	// seconds.
	srv.rttNs.Store(old + (int64(d)-old)/4)
}

// probe checks an ejected server on a fresh connection with a short
// timeout, so a pool full of hung connections cannot delay recovery.
func (s *Store) probe(srv *server) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ProbeTimeout)
	defer cancel()
	ok := probeOnce(ctx, srv.probe) == nil
	if s.ctx.Err() != nil {
		ok = false
	}
	srv.rs.Health.ProbeResult(s.clock.Now(), ok)
	if ok {
		s.log.Info("online: server back on probation", "region", srv.rs.Region, "server", srv.rs.Name)
		s.tel.recovered(srv)
	}
}

// probeOnce dials a fresh connection and pings it. The driver honours ctx
// during the dial and the handshake, and the probe config's read and write
// timeouts equal ProbeTimeout as a backstop, so this returns within about
// ProbeTimeout.
func probeOnce(ctx context.Context, mc *mysql.Config) error {
	pc, err := dialConn(ctx, mc)
	if err != nil {
		return err
	}
	defer func() { _ = pc.dc.Close() }()
	return pc.ping(ctx)
}
