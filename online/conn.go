package online

import (
	"context"
	"database/sql"
	"database/sql/driver"
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
// database/sql discard the connection. That costs one connection per
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

	mu       sync.Mutex
	isClosed bool
	onClose  func() // set once the driver connection is known
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
// write timeouts); one set after stop must not undo it.

func (c *sock) SetDeadline(t time.Time) error {
	err := c.Conn.SetDeadline(t)
	if c.stopped.Load() {
		_ = c.Conn.SetDeadline(past)
	}
	return err
}

func (c *sock) SetReadDeadline(t time.Time) error {
	err := c.Conn.SetReadDeadline(t)
	if c.stopped.Load() {
		_ = c.Conn.SetDeadline(past)
	}
	return err
}

func (c *sock) SetWriteDeadline(t time.Time) error {
	err := c.Conn.SetWriteDeadline(t)
	if c.stopped.Load() {
		_ = c.Conn.SetDeadline(past)
	}
	return err
}

func (c *sock) Close() error {
	c.mu.Lock()
	f := c.onClose
	first := !c.isClosed
	c.isClosed, c.onClose = true, nil
	c.mu.Unlock()
	if first && f != nil {
		f()
	}
	return c.Conn.Close()
}

// whenClosed runs f once c is closed, at once if it already is: the
// driver's watcher may close a connection while Connect is returning it.
func (c *sock) whenClosed(f func()) {
	c.mu.Lock()
	if c.isClosed {
		c.mu.Unlock()
		f()
		return
	}
	c.onClose = f
	c.mu.Unlock()
}

// stop makes every read and write on c fail from now on, including one
// that is blocked.
func (c *sock) stop() {
	c.stopped.Store(true)
	_ = c.Conn.SetDeadline(past)
}

// sysSock is a sock over a socket with a file descriptor: the driver
// checks an idle connection's liveness through it.
type sysSock struct{ *sock }

func (c sysSock) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}

type dialSlotKey struct{}

// dialSlot carries the sock of a connection being opened from the dial
// function back to connector.Connect.
type dialSlot struct{ s *sock }

// dialFunc wraps next (nil: a plain net.Dialer) so every connection dials
// through a sock.
func dialFunc(next func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
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
		if slot, ok := ctx.Value(dialSlotKey{}).(*dialSlot); ok {
			slot.s = s
		}
		if _, ok := nc.(syscall.Conn); ok {
			return sysSock{s}, nil
		}
		return s, nil
	}
}

// pooled is what the Store keeps about one of its pool's connections: the
// socket to stop, and the statements prepared on it. Only the goroutine
// holding the connection touches stmts.
type pooled struct {
	sock  *sock
	stmts map[*Stmt]driver.Stmt
}

// connector opens a pool's connections and knows each one's sock. It
// counts the connections it opened, so the Store can report how many were
// discarded.
type connector struct {
	driver.Connector
	socks  bool // connections dial through a sock
	opened atomic.Int64
	conns  sync.Map // driver.Conn → *pooled
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	slot := &dialSlot{}
	if c.socks {
		ctx = context.WithValue(ctx, dialSlotKey{}, slot)
	}
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	c.opened.Add(1)
	if slot.s != nil {
		c.conns.Store(dc, &pooled{sock: slot.s, stmts: map[*Stmt]driver.Stmt{}})
		slot.s.whenClosed(func() { c.conns.Delete(dc) })
	}
	return dc, nil
}

// lookup returns what the Store keeps about driver connection dc.
func (c *connector) lookup(dc any) *pooled {
	if v, ok := c.conns.Load(dc); ok {
		return v.(*pooled)
	}
	return nil
}

// interruptor stops the sockets of one inline attempt. fire may come at
// any time, before, during or after the attempt's I/O; a socket is only
// stopped while attached, so a connection that went back to the pool is
// never stopped.
//
// Before the I/O, an attempt may wait for a connection from the pool (all
// of them busy, e.g. stuck on a blackholed server); that wait is cut by
// cancelling the context it waits with.
type interruptor struct {
	caller  context.Context // the read's context: its end also fires
	mu      sync.Mutex
	fired   bool
	socks   []*sock
	waiting []context.CancelFunc
}

func (ir *interruptor) fire() {
	ir.mu.Lock()
	defer ir.mu.Unlock()
	ir.fired = true
	for _, s := range ir.socks {
		s.stop()
	}
	for _, cancel := range ir.waiting {
		cancel()
	}
}

// conn takes a connection from db, a wait that fire cuts short.
func (ir *interruptor) conn(ctx context.Context, db *sql.DB) (*sql.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ir.mu.Lock()
	if ir.fired {
		ir.mu.Unlock()
		return nil, errInterrupted
	}
	ir.waiting = append(ir.waiting, cancel)
	k := len(ir.waiting) - 1
	ir.mu.Unlock()
	c, err := db.Conn(ctx)
	ir.mu.Lock()
	ir.waiting[k] = func() {} // this wait is over; cancel is not to be kept
	ir.mu.Unlock()
	return c, err
}

// attach registers s for the I/O to come; false means fire came first and
// the I/O must not start.
func (ir *interruptor) attach(s *sock) bool {
	ir.mu.Lock()
	defer ir.mu.Unlock()
	if ir.fired {
		return false
	}
	ir.socks = append(ir.socks, s)
	return true
}

// detach ends s's I/O; true means s was stopped, so its connection must
// not go back to the pool.
func (ir *interruptor) detach(s *sock) bool {
	ir.mu.Lock()
	defer ir.mu.Unlock()
	for i, x := range ir.socks {
		if x == s {
			ir.socks = append(ir.socks[:i], ir.socks[i+1:]...)
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
