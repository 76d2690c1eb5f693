package online

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Reads on the caller's goroutine.
//
// A hedged read that hands its first attempt to another goroutine pays two
// scheduler hand-offs, about a third of a local lookup on two cores. So,
// on a server that is rarely hedged, the first attempt runs on the
// caller's goroutine (hedge.Plan.Inline). When a hedge wins, or the
// caller's context ends, that attempt must stop at once, yet a query in
// go-sql-driver can only be stopped by closing its connection, and a
// cancellable context costs a watcher wake-up on every query. So the pool
// dials through a socket of ours that an interruptor can stop: it pulls
// the socket's deadlines in, the driver's read fails, and the driver and
// the Store's pool discard the connection (pool.go). That costs one connection per
// interrupted attempt, which is why only rarely hedged servers read
// inline; a loser on a worker finishes and keeps its connection.

// errInterrupted is the error of an I/O on a stopped socket.
var errInterrupted = errors.New("online: attempt interrupted: another attempt won or the caller left")

// past is a deadline that has passed.
var past = time.Unix(1, 0)

// sock is a pooled connection's socket.
type sock struct {
	net.Conn
	stopped atomic.Bool
	limit   atomic.Int64 // unix nanos of the attempt's deadline; 0: none
	// rd and wd are the read and write deadlines last set on Conn (unix
	// nanos; 0: none), so a deadline the driver sets again unchanged
	// costs no call into the runtime's poller. Only the connection's
	// holder sets deadlines; stop bypasses them.
	rd, wd int64
}

func (c *sock) Read(b []byte) (int, error) {
	if c.stopped.Load() {
		return 0, errInterrupted
	}
	return c.Conn.Read(b)
}

func (c *sock) Write(b []byte) (int, error) {
	if c.stopped.Load() {
		return 0, errInterrupted
	}
	return c.Conn.Write(b)
}

// The driver sets a deadline before every read and write (its read and
// write timeouts); one set after stop must not undo it, and none may pass
// the attempt's own deadline (limit). Within an attempt the driver's
// deadline (now plus a timeout no shorter than the attempt's) clamps to
// the same limit every time, so after the first read and write of an
// attempt the calls change nothing and are skipped.

func (c *sock) clamp(t time.Time) int64 {
	l := c.limit.Load()
	if l != 0 && (t.IsZero() || t.UnixNano() > l) {
		return l
	}
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func nanoTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func (c *sock) SetDeadline(t time.Time) error {
	n := c.clamp(t)
	var err error
	if n != c.rd || n != c.wd {
		err = c.Conn.SetDeadline(nanoTime(n))
		c.rd, c.wd = n, n
	}
	c.keepStopped()
	return err
}

func (c *sock) SetReadDeadline(t time.Time) error {
	n := c.clamp(t)
	var err error
	if n != c.rd {
		err = c.Conn.SetReadDeadline(nanoTime(n))
		c.rd = n
	}
	c.keepStopped()
	return err
}

func (c *sock) SetWriteDeadline(t time.Time) error {
	n := c.clamp(t)
	var err error
	if n != c.wd {
		err = c.Conn.SetWriteDeadline(nanoTime(n))
		c.wd = n
	}
	c.keepStopped()
	return err
}

// keepStopped undoes a deadline set after stop.
func (c *sock) keepStopped() {
	if c.stopped.Load() {
		_ = c.Conn.SetDeadline(past)
	}
}

// stop makes every read and write on c fail from now on, including one
// that is blocked.
func (c *sock) stop() {
	c.stopped.Store(true)
	_ = c.Conn.SetDeadline(past)
}

// readable reports whether bytes wait in the socket's receive buffer, by
// a non-blocking peek that consumes nothing. A socket without a file
// descriptor (a test's net.Pipe) or an error reports false.
func (c *sock) readable() bool {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var n int
	var perr error
	if err := rc.Control(func(fd uintptr) { n, perr = peek(fd) }); err != nil {
		return false
	}
	return perr == nil && n > 0
}

// sysSock is a sock over a socket with a file descriptor: the driver
// checks an idle connection's liveness through it.
type sysSock struct{ *sock }

func (c sysSock) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}

// wrapDial wraps next (nil: a plain net.Dialer) so the connection dials
// through a sock, which it stores in *out.
func wrapDial(next func(ctx context.Context, network, addr string) (net.Conn, error), out **sock) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var nc net.Conn
		var err error
		if next != nil {
			nc, err = next(ctx, network, addr)
		} else {
			var d net.Dialer
			nc, err = d.DialContext(ctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		s := &sock{Conn: nc}
		*out = s
		if _, ok := nc.(syscall.Conn); ok {
			return sysSock{s}, nil
		}
		return s, nil
	}
}

// interruptor stops the connections of one inline attempt. fire may come
// at any time, before, during or after the attempt's I/O; a connection is
// only interrupted while attached, so one that went back to the pool is
// never stopped.
//
// Before the I/O, an attempt may wait for a connection from the pool (all
// of them busy, e.g. stuck on a blackholed server); fire ends that wait
// too, through the channel wait returns.
type interruptor struct {
	caller context.Context // the read's context: its end also fires
	mu     sync.Mutex
	fired  bool
	conns  []*pconn
	done   chan struct{} // made by the first wait
	// connBuf backs conns for the usual one or two calls of a read.
	connBuf [2]*pconn
}

// closedCh is a channel that is always closed.
var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (ir *interruptor) fire() {
	ir.mu.Lock()
	defer ir.mu.Unlock()
	if ir.fired {
		return
	}
	ir.fired = true
	for _, pc := range ir.conns {
		pc.interrupt()
	}
	if ir.done != nil {
		close(ir.done)
	}
}

// wait returns a channel closed by fire, for a wait for a connection.
func (ir *interruptor) wait() <-chan struct{} {
	ir.mu.Lock()
	defer ir.mu.Unlock()
	if ir.fired {
		return closedCh
	}
	if ir.done == nil {
		ir.done = make(chan struct{})
	}
	return ir.done
}

// attach registers pc for the I/O to come; false means fire came first
// and the I/O must not start.
func (ir *interruptor) attach(pc *pconn) bool {
	ir.mu.Lock()
	defer ir.mu.Unlock()
	if ir.fired {
		return false
	}
	ir.conns = append(ir.conns, pc)
	return true
}

// detach ends pc's I/O; true means it may have been interrupted, so it
// must not go back to the pool.
func (ir *interruptor) detach(pc *pconn) bool {
	ir.mu.Lock()
	defer ir.mu.Unlock()
	for i, x := range ir.conns {
		if x == pc {
			ir.conns = append(ir.conns[:i], ir.conns[i+1:]...)
			break
		}
	}
	return ir.fired
}

// byCaller reports whether the read's caller left (rather than a hedge
// winning).
func (ir *interruptor) byCaller() bool { return ir.caller != nil && ir.caller.Err() != nil }

// interrupted reports whether fire was called.
func (ir *interruptor) interrupted() bool {
	if ir == nil {
		return false
	}
	ir.mu.Lock()
	defer ir.mu.Unlock()
	return ir.fired
}
