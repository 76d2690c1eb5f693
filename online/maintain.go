package online

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"
	"time"

	"github.com/tandemfs/tandem/region"
)

// Background cadence. Probes are checked often because recovery must be
// noticed within about 200 ms (DESIGN.md §4 lessons); the check is cheap
// (an atomic load per server).
const (
	probeTick   = 10 * time.Millisecond
	refreshTick = 250 * time.Millisecond
	warmTick    = time.Second
)

func (s *Store) maintain() {
	defer s.wg.Done()
	t := time.NewTicker(probeTick)
	defer t.Stop()
	var lastRefresh, lastWarm time.Time
	var snap region.Snapshot
	for {
		now := s.clock.Now()
		for _, srv := range s.servers {
			if srv.rs.Health.ProbeDue(now) {
				s.wg.Add(1)
				go s.probe(srv)
			}
		}
		if now.Sub(lastRefresh) >= refreshTick {
			lastRefresh = now
			s.refreshDelays(now, &snap)
		}
		if now.Sub(lastWarm) >= warmTick {
			lastWarm = now
			for _, srv := range s.servers {
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
func (s *Store) refreshDelays(now time.Time, snap *region.Snapshot) {
	h := s.cfg.Hedge
	for _, srv := range s.servers {
		srv.rs.Health.Latency().Snapshot(now, snap)
		srv.softNs.Store(int64(softThreshold(snap, h)))
		if h.Delay <= 0 {
			// The hedge after an attempt here goes to another server of
			// the same region if there is one, otherwise to the nearest
			// other region: use that target's round trip.
			rtt := s.hedgeTargetRTT(srv)
			srv.hedgeNs.Store(int64(adaptiveDelay(snap, rtt, h)))
		}
		srv.inline.Store(srv.conn != nil && srv.conn.socks && !h.NoInline && !h.CancelLosers && rarelyHedged(snap, time.Duration(srv.hedgeNs.Load())))
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

func rarelyHedged(snap *region.Snapshot, delay time.Duration) bool {
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

// warm keeps MinIdleConns connections open on srv and measures its round
// trip with pings on them. Without warm connections a hedge pays for a
// dial and a handshake: 2–3 remote round trips (DESIGN.md §4 lessons).
func (s *Store) warm(srv *server) {
	defer s.wg.Done()
	defer srv.warming.Store(false)
	if srv.db.Stats().Idle >= s.cfg.MinIdleConns && srv.rttNs.Load() > 0 {
		// Warm enough; still take one round-trip sample.
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DialTimeout)
		defer cancel()
		start := time.Now()
		if err := srv.db.PingContext(ctx); err == nil {
			s.noteRTT(srv, time.Since(start))
		}
		s.warmStmts(srv)
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DialTimeout)
	defer cancel()
	// Hold MinIdleConns connections at once so the pool opens that many.
	conns := make(chan *connPing, s.cfg.MinIdleConns)
	for range s.cfg.MinIdleConns {
		go func() {
			c, err := srv.db.Conn(ctx)
			if err != nil {
				conns <- nil
				return
			}
			start := time.Now()
			err = c.PingContext(ctx)
			conns <- &connPing{c: c, d: time.Since(start), err: err}
		}()
	}
	var held []*connPing
	for range s.cfg.MinIdleConns {
		if cp := <-conns; cp != nil {
			held = append(held, cp)
		}
	}
	for _, cp := range held {
		if cp.err == nil {
			s.noteRTT(srv, cp.d)
		}
		_ = cp.c.Close() // back to the pool
	}
	s.warmStmts(srv)
}

// warmStmts prepares the Store's statements on the warm connections of
// srv. database/sql prepares a statement on a connection the first time it
// runs there, so without this the first hedge to a remote server pays an
// extra round trip (COM_STMT_PREPARE) on each connection it lands on. Each
// statement runs MinIdleConns times at once with NULL arguments, which
// match no row; against a remote server the round trip makes the runs
// overlap, so they land on different connections. It runs again only when
// the pool opened new connections or new statements appeared.
func (s *Store) warmStmts(srv *server) {
	s.stmtMu.Lock()
	stmts := make([]*Stmt, 0, len(s.stmts))
	for _, st := range s.stmts {
		if !st.IsBatch() {
			stmts = append(stmts, st)
		}
	}
	s.stmtMu.Unlock()
	gen := int64(len(stmts))
	if srv.conn != nil {
		gen += srv.conn.opened.Load() << 20
	}
	if len(stmts) == 0 || srv.stmtGen.Load() == gen {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DialTimeout)
	defer cancel()
	if srv.conn != nil && srv.conn.socks {
		if s.prepareHeld(ctx, srv, stmts) {
			srv.stmtGen.Store(gen)
		}
		return
	}
	var wg sync.WaitGroup
	for _, st := range stmts {
		ps, err := st.on(ctx, srv)
		if err != nil {
			return
		}
		args := make([]any, st.info.params)
		for range s.cfg.MinIdleConns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if rows, err := ps.QueryContext(ctx, args...); err == nil {
					_ = rows.Close()
				}
			}()
		}
	}
	wg.Wait()
	srv.stmtGen.Store(gen)
}

// prepareHeld holds MinIdleConns connections of srv's pool at once and
// prepares every statement in stmts on each that lacks it, in the
// connection's own statement cache (held.go). It reports whether all of
// them succeeded.
func (s *Store) prepareHeld(ctx context.Context, srv *server, stmts []*Stmt) bool {
	held := make(chan *sql.Conn, s.cfg.MinIdleConns)
	for range s.cfg.MinIdleConns {
		go func() {
			c, err := srv.db.Conn(ctx)
			if err != nil {
				c = nil
			}
			held <- c
		}()
	}
	ok := true
	for range s.cfg.MinIdleConns {
		c := <-held
		if c == nil {
			ok = false
			continue
		}
		err := c.Raw(func(dc any) error {
			pc := srv.conn.lookup(dc)
			if pc == nil {
				return errNotPooled
			}
			prep, can := dc.(driver.ConnPrepareContext)
			if !can {
				return errNotPooled
			}
			for _, st := range stmts {
				if _, done := pc.stmts[st]; done {
					continue
				}
				ds, err := prep.PrepareContext(ctx, st.query)
				if err != nil {
					return err
				}
				pc.stmts[st] = ds
			}
			return nil
		})
		ok = ok && err == nil
		_ = c.Close()
	}
	return ok
}

type connPing struct {
	c interface {
		PingContext(context.Context) error
		Close() error
	}
	d   time.Duration
	err error
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
	ok := probeOnce(ctx, srv.probes) == nil
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
// during the dial and the handshake, and the probe connector's read and
// write timeouts equal ProbeTimeout as a backstop, so this returns within
// about ProbeTimeout.
func probeOnce(ctx context.Context, c driver.Connector) error {
	conn, err := c.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if p, ok := conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}
