package faultproxy

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	bufSize = 32 << 10
	// downQueue bounds the chunks waiting for their release time. When it
	// is full the server→client reader stops reading, and TCP flow control
	// pushes back on the server, as a slow link would.
	downQueue = 64
)

// chunk is a piece of server→client data and the time it may be written.
type chunk struct {
	data    []byte
	release time.Time
}

// link is one proxied connection: a client conn and (unless it was accepted
// during a blackhole) one upstream conn.
type link struct {
	p      *Proxy
	client net.Conn
	frozen atomic.Bool // blackholed: swallow everything, close nothing
	done   chan struct{}
	once   sync.Once

	mu     sync.Mutex
	server net.Conn
	closed bool
}

func (l *link) run(blackholed bool) {
	defer l.p.wg.Done()
	if blackholed {
		// A blackholed region accepts and never answers. Keep reading so
		// we notice when the client gives up.
		l.pumpUp(nil)
		return
	}
	d := net.Dialer{Timeout: l.p.dialTimeout}
	s, err := d.DialContext(l.p.ctx, "tcp", l.p.target)
	if err != nil {
		// The target is down (killed server). Reset rather than close so
		// the client fails fast with ECONNRESET instead of waiting on a
		// handshake that will never come.
		l.p.dialErrors.Add(1)
		l.close(true)
		return
	}
	l.mu.Lock()
	if l.closed { // reset or Close while we were dialling
		l.mu.Unlock()
		_ = s.Close()
		return
	}
	l.server = s
	l.mu.Unlock()

	ch := make(chan chunk, downQueue)
	l.p.wg.Add(2)
	go func() { defer l.p.wg.Done(); l.pumpUp(s) }()
	go func() { defer l.p.wg.Done(); l.readDown(s, ch) }()
	l.writeDown(ch)
}

// pumpUp copies client→server, one read = one request, applying stalls.
// With s == nil (accepted during a blackhole) everything is swallowed.
func (l *link) pumpUp(s net.Conn) {
	buf := make([]byte, bufSize)
	for {
		n, err := l.client.Read(buf)
		if n > 0 {
			l.p.requests.Add(1)
			if !l.forwardUp(s, buf[:n]) {
				return
			}
		}
		if err != nil {
			// The client is gone (or we closed it): always tear down,
			// frozen or not.
			l.close(false)
			return
		}
	}
}

// forwardUp sends one request upstream; false means the link is finished.
func (l *link) forwardUp(s net.Conn, b []byte) bool {
	if s == nil || l.frozen.Load() {
		l.p.swallowed.Add(1)
		return true
	}
	if d := l.p.rollStall(); d > 0 {
		l.p.stalled.Add(1)
		if !l.sleep(d) {
			return false
		}
	}
	if l.frozen.Load() { // blackholed while stalled
		l.p.swallowed.Add(1)
		return true
	}
	if _, err := s.Write(b); err != nil {
		if l.frozen.Load() {
			return true // a frozen link stays open; see SetBlackhole
		}
		l.close(false)
		return false
	}
	return true
}

// readDown reads server→client chunks and stamps each with its release time
// (read time + latency), so pipelined chunks are not delayed cumulatively.
func (l *link) readDown(s net.Conn, ch chan<- chunk) {
	buf := make([]byte, bufSize)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if l.frozen.Load() {
				l.p.swallowed.Add(1)
			} else {
				c := chunk{
					data:    append([]byte(nil), buf[:n]...),
					release: time.Now().Add(time.Duration(l.p.latency.Load())),
				}
				select {
				case ch <- c:
				case <-l.done:
					return
				}
			}
		}
		if err != nil {
			if !l.frozen.Load() {
				// Let the writer flush what is queued, then close the
				// client side: the client sees the server's EOF late
				// by the same latency as the data before it.
				close(ch)
			}
			return
		}
	}
}

// writeDown releases chunks to the client at their release times.
func (l *link) writeDown(ch <-chan chunk) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				l.close(false)
				return
			}
			if wait := time.Until(c.release); wait > 0 {
				t.Reset(wait) // Go ≥1.23 timers: no stale tick to drain
				select {
				case <-t.C:
				case <-l.done:
					return
				}
			}
			if l.frozen.Load() {
				l.p.swallowed.Add(1)
				continue
			}
			if !l.write(c.data) {
				return
			}
		case <-l.done:
			return
		}
	}
}

// write sends server→client data, one byte per trickle interval when
// SetTrickle is on; false means the link is finished.
func (l *link) write(b []byte) bool {
	for len(b) > 0 {
		n := len(b)
		if every := time.Duration(l.p.trickle.Load()); every > 0 {
			n = 1
			if !l.sleep(every) {
				return false
			}
		}
		if _, err := l.client.Write(b[:n]); err != nil {
			l.close(false)
			return false
		}
		b = b[n:]
	}
	return true
}

// sleep waits d or until the link closes; false means it closed.
func (l *link) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.done:
		return false
	}
}

// close closes both sides once. reset sends RST instead of FIN.
func (l *link) close(reset bool) {
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		s := l.server
		l.mu.Unlock()
		if reset {
			l.p.resets.Add(1)
			setLingerZero(l.client)
			setLingerZero(s)
		}
		_ = l.client.Close()
		if s != nil {
			_ = s.Close()
		}
		close(l.done)
		l.p.mu.Lock()
		delete(l.p.links, l)
		l.p.mu.Unlock()
	})
}

// setLingerZero makes Close send RST: the kernel discards unsent data and
// aborts the connection instead of the FIN handshake.
func setLingerZero(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
}
