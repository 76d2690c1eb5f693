package online

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// The Store owns one pool per server, over go-sql-driver's
// driver.Connector, instead of database/sql's. It needs what database/sql
// hides: a wait for a connection bounded by the attempt's own deadline
// (without a cancellable context per read), a way to interrupt the one
// connection an attempt holds, a bounded cache of prepared statements per
// connection that closes what it evicts, and counts of what it opened and
// discarded. A small pool of our own does that with no allocation on the
// path that finds an idle connection; jackc/puddle/v2 would have been a new
// dependency whose Acquire bounds a wait only by a context, which costs a
// context and a timer per read.

// errAcquireTimeout is the error of an attempt whose deadline passed while
// it waited for a connection of an exhausted pool.
var errAcquireTimeout = errors.New("online: no connection became free before the attempt's deadline (pool exhausted); raise MaxOpenConns if this is not a stuck server")

// errPoolClosed is the error of an attempt on a closed pool.
var errPoolClosed = errors.New("online: pool is closed")

// idleCheckAfter is how long a connection may sit idle before it is
// checked for liveness (a non-blocking read) when taken from the pool: a
// server's wait_timeout or a restart closes idle connections silently.
const idleCheckAfter = time.Second

// pool is one server's connections. It is safe for concurrent use.
type pool struct {
	dial     func(ctx context.Context) (*pconn, error)
	max      int
	minIdle  int
	lifetime time.Duration
	// maxIdleTime is how long a connection beyond minIdle may sit idle
	// before trim closes it.
	maxIdleTime time.Duration
	stmtCap     int

	fillMu sync.Mutex // serialises fill

	mu      sync.Mutex
	idle    []*pconn // most recently used last
	open    int      // connections open or being dialled
	waiters []*waiter
	closed  bool

	inUse atomic.Int64
	// peak is the most connections in use at once since the last
	// adapt; want (under mu) is how many connections fill keeps open,
	// from those peaks, so that a burst like the last ones finds them
	// open rather than dialling on a read's path.
	peak atomic.Int64
	want int
	// wantStmts is how many statements a ready connection holds (the
	// Store's single statements, up to stmtCap); a connection released
	// with fewer sets unprimed, and the Store's loop then prepares the
	// missing ones on the idle connections within a tick rather than at
	// the next warm-up a second later. A connection that a read dialled
	// has only its own statement, and a hedge that takes it for another
	// waits one more round trip to a remote region.
	wantStmts atomic.Int64
	unprimed  atomic.Bool
	opened    atomic.Int64
	discarded atomic.Int64
	stmts     atomic.Int64 // statements prepared on the server, over every connection
}

// waiter is an attempt waiting for a connection. It receives one, or nil,
// which hands it an open slot to dial itself.
type waiter struct{ ch chan *pconn }

// pconn is one pooled connection. Only the goroutine holding it touches
// stmts.
type pconn struct {
	pool    *pool
	dc      driver.Conn
	prep    driver.ConnPrepareContext
	checker driver.NamedValueChecker
	reset   driver.SessionResetter
	valid   driver.Validator
	sock    *sock
	created time.Time
	idleAt  time.Time
	stmts   stmtCache
	// args and dest are buffers for one call's arguments and one row,
	// reused by whoever holds the connection.
	args []driver.NamedValue
	dest []driver.Value
}

// interrupt stops the connection's I/O at once, a blocked read included;
// the connection is then discarded when it is released.
func (pc *pconn) interrupt() { pc.sock.stop() }

// begin bounds the connection's I/O until end by the attempt's deadline:
// the driver's per-read socket deadlines are clamped to it, so a server
// that trickles bytes cannot stretch an attempt past it.
func (pc *pconn) begin(deadline time.Time) { pc.sock.limit.Store(deadline.UnixNano()) }

func (pc *pconn) end() { pc.sock.limit.Store(0) }

// close closes the connection and forgets its statements (the server
// frees them with the session).
func (pc *pconn) close() {
	pc.pool.stmts.Add(-int64(pc.stmts.len()))
	pc.stmts.clear()
	_ = pc.dc.Close()
}

// reusable reports whether the connection may go back to the pool.
func (pc *pconn) reusable() bool {
	if pc.sock.stopped.Load() {
		return false
	}
	if pc.valid != nil && !pc.valid.IsValid() {
		return false
	}
	return true
}

// acquire returns a connection, waiting while the pool is exhausted until
// deadline, ctx's end or stop (an interrupt) at the latest. It allocates
// nothing when an idle connection is there.
func (p *pool) acquire(ctx context.Context, deadline time.Time, stop func() <-chan struct{}) (*pconn, error) {
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return nil, errPoolClosed
		}
		n := len(p.idle)
		if n == 0 {
			break
		}
		pc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if p.lifetime > 0 && time.Since(pc.created) > p.lifetime {
			p.open--
			p.mu.Unlock()
			pc.close()
			p.mu.Lock()
			continue
		}
		p.mu.Unlock()
		if time.Since(pc.idleAt) > idleCheckAfter && pc.reset != nil && pc.reset.ResetSession(ctx) != nil {
			p.discard(pc)
			p.mu.Lock()
			continue
		}
		p.took()
		return pc, nil
	}
	if p.open < p.max {
		p.open++
		p.mu.Unlock()
		return p.connect(ctx, deadline, stop)
	}
	w := &waiter{ch: make(chan *pconn, 1)}
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()

	var stopCh <-chan struct{}
	if stop != nil {
		stopCh = stop()
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	var err error
	select {
	case pc := <-w.ch:
		return p.handed(ctx, deadline, stop, pc)
	case <-ctx.Done():
		err = ctx.Err()
	case <-stopCh:
		err = errInterrupted
	case <-t.C:
		err = errAcquireTimeout
	}
	p.mu.Lock()
	for i, x := range p.waiters {
		if x == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			p.mu.Unlock()
			return nil, err
		}
	}
	p.mu.Unlock()
	// Handed something just as we gave up: pass it on.
	if pc := <-w.ch; pc != nil {
		p.took()
		p.release(pc)
	} else {
		p.freeSlot()
	}
	return nil, err
}

// handed takes what a waiter received: a connection, or a slot to dial.
func (p *pool) handed(ctx context.Context, deadline time.Time, stop func() <-chan struct{}, pc *pconn) (*pconn, error) {
	if pc == nil {
		return p.connect(ctx, deadline, stop)
	}
	p.took()
	return pc, nil
}

// connect dials a connection for a slot already counted in p.open. A
// dial to a blackholed server waits for a handshake that never comes, so
// stop (an interrupt) ends it too.
func (p *pool) connect(ctx context.Context, deadline time.Time, stop func() <-chan struct{}) (*pconn, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		p.freeSlot()
		return nil, errPoolClosed
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	if stop != nil {
		stopCh := stop()
		go func() {
			select {
			case <-stopCh:
				cancel()
			case <-dctx.Done():
			}
		}()
	}
	pc, err := p.dial(dctx)
	interrupted := stop != nil && dctx.Err() == context.Canceled && ctx.Err() == nil
	cancel()
	if err != nil {
		p.freeSlot()
		if interrupted {
			return nil, errInterrupted
		}
		return nil, err
	}
	pc.pool = p
	p.opened.Add(1)
	p.took()
	return pc, nil
}

// freeSlot gives up one slot of p.open: to a waiter, which dials, or back.
func (p *pool) freeSlot() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.waiters) > 0 && !p.closed {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		w.ch <- nil
		return
	}
	p.open--
}

// release returns a held connection: to a waiter, to the idle list, or,
// if it cannot be trusted again, closed.
func (p *pool) release(pc *pconn) {
	p.inUse.Add(-1)
	if !pc.reusable() {
		p.discard(pc)
		return
	}
	if int64(pc.stmts.len()) < p.wantStmts.Load() {
		p.unprimed.Store(true)
	}
	pc.idleAt = time.Now()
	p.mu.Lock()
	if p.closed {
		p.open--
		p.mu.Unlock()
		pc.close()
		return
	}
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.mu.Unlock()
		w.ch <- pc
		return
	}
	p.idle = append(p.idle, pc)
	p.mu.Unlock()
}

// discard closes a connection that failed or was interrupted.
func (p *pool) discard(pc *pconn) {
	p.discarded.Add(1)
	pc.close()
	p.freeSlot()
}

// tryIdle takes an idle connection without waiting or dialling (nil if
// there is none), for background work that must not compete with reads.
func (p *pool) tryIdle() *pconn {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if p.closed || n == 0 {
		return nil
	}
	pc := p.idle[0] // the least recently used
	p.idle = append(p.idle[:0], p.idle[1:]...)
	p.took()
	return pc
}

// fill dials connections until the pool holds its target (minIdle, or
// more after bursts; see adapt), counting those in use, concurrently, and
// returns the first error.
//
// prime, if set, runs on each new connection before it goes idle (the
// Store prepares its statements there), so a read never takes a
// connection that fill dialled but has not readied; a connection prime
// fails on is discarded.
func (p *pool) fill(ctx context.Context, timeout time.Duration, prime func(*pconn, time.Time) error) error {
	// One fill at a time: a second one (Warm while the background loop
	// warms) waits for the first's dials rather than returning before
	// they are done.
	p.fillMu.Lock()
	defer p.fillMu.Unlock()
	p.mu.Lock()
	need := min(p.target()-p.open, p.max-p.open)
	if p.closed || need <= 0 {
		p.mu.Unlock()
		return nil
	}
	p.open += need
	p.mu.Unlock()
	deadline := time.Now().Add(timeout)
	errs := make([]error, need)
	var wg sync.WaitGroup
	for i := range need {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc, err := p.connect(ctx, deadline, nil)
			if err != nil {
				errs[i] = err
				return
			}
			if prime != nil {
				if err := prime(pc, deadline); err != nil {
					errs[i] = err
					p.inUse.Add(-1)
					p.discard(pc)
					return
				}
			}
			p.release(pc)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// close closes the idle connections and makes every later acquire fail;
// connections in use are closed when released.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.open -= len(idle)
	ws := p.waiters
	p.waiters = nil
	p.mu.Unlock()
	for _, w := range ws {
		// A waiter handed a slot finds the pool closed and gives it up.
		p.mu.Lock()
		p.open++ // the slot it gives back
		p.mu.Unlock()
		w.ch <- nil
	}
	for _, pc := range idle {
		pc.close()
	}
}

// took counts a connection handed out, and the peak in use.
func (p *pool) took() {
	n := p.inUse.Add(1)
	for {
		m := p.peak.Load()
		if n <= m || p.peak.CompareAndSwap(m, n) {
			return
		}
	}
}

// adapt sets how many connections fill keeps open: the peak in use since
// the last adapt plus a quarter (at least 2), never below minIdle nor
// above max, and falling by one per call at most, so a pool that served a
// burst of hedges stays ready for the next one for a while. A hedge to a
// region 20 ms away that has to dial waits five or six round trips (TCP,
// handshake, authentication, the read-only session, the prepare): in S2
// at 8 workers those were the vectors that took 100 ms although hedged.
func (p *pool) adapt() int {
	peak := int(p.peak.Swap(p.inUse.Load()))
	w := peak
	if peak > 0 {
		w = peak + max(2, peak/4)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	w = max(w, p.want-1, p.minIdle)
	p.want = min(w, p.max)
	return p.want
}

// target is how many connections fill keeps open. p.mu is held.
func (p *pool) target() int { return max(p.minIdle, p.want) }

// trim closes the connections beyond the target (minIdle, or more after
// bursts; see adapt) that have been idle longer than maxIdleTime, the least recently used first, and returns how many
// it closed. The idle list is ordered by use, so it stops at the first
// connection used more recently.
func (p *pool) trim(now time.Time) int {
	if p.maxIdleTime <= 0 {
		return 0
	}
	p.mu.Lock()
	var old []*pconn
	for len(p.idle) > 0 && p.open > p.target() && now.Sub(p.idle[0].idleAt) > p.maxIdleTime {
		old = append(old, p.idle[0])
		p.idle[0] = nil
		p.idle = p.idle[1:]
		p.open--
	}
	p.mu.Unlock()
	for _, pc := range old {
		pc.close()
	}
	return len(old)
}

// poolStats is a snapshot of a pool.
type poolStats struct {
	open, idle, inUse        int
	opened, discarded, stmts int64
}

func (p *pool) stats() poolStats {
	p.mu.Lock()
	st := poolStats{open: p.open, idle: len(p.idle)}
	p.mu.Unlock()
	st.inUse = int(p.inUse.Load())
	st.opened, st.discarded, st.stmts = p.opened.Load(), p.discarded.Load(), p.stmts.Load()
	return st
}

// stmtCache is a connection's prepared statements, at most cap of them:
// the least recently used is closed on the server when a new one needs
// room, so the statements a process holds stay bounded however many
// statement texts it runs.
type stmtCache struct {
	m    map[*Stmt]*cachedStmt
	tick uint64
}

type cachedStmt struct {
	ds   driver.Stmt
	used uint64
}

func (c *stmtCache) len() int { return len(c.m) }

func (c *stmtCache) clear() { c.m = nil }

// get returns st's prepared statement on pc, preparing it (and evicting
// the least recently used one) if needed.
func (pc *pconn) stmt(ctx context.Context, st *Stmt) (driver.Stmt, error) {
	c := &pc.stmts
	c.tick++
	if e, ok := c.m[st]; ok {
		e.used = c.tick
		return e.ds, nil
	}
	if c.m == nil {
		c.m = make(map[*Stmt]*cachedStmt, 4)
	}
	if len(c.m) >= pc.pool.stmtCap {
		var old *Stmt
		var oldest uint64 = ^uint64(0)
		for k, e := range c.m {
			if e.used < oldest {
				old, oldest = k, e.used
			}
		}
		e := c.m[old]
		delete(c.m, old)
		pc.pool.stmts.Add(-1)
		// COM_STMT_CLOSE has no reply: this costs a write, not a round
		// trip. A failure shows on the next use of the connection.
		_ = e.ds.Close()
	}
	ds, err := pc.prep.PrepareContext(ctx, st.query)
	if err != nil {
		return nil, err
	}
	c.m[st] = &cachedStmt{ds: ds, used: c.tick}
	pc.pool.stmts.Add(1)
	return ds, nil
}

// has reports whether st is prepared on pc.
func (pc *pconn) has(st *Stmt) bool {
	_, ok := pc.stmts.m[st]
	return ok
}
