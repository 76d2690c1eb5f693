package faultproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer answers each line with the same line: the smallest
// request/response protocol that lets us time round trips.
type echoServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newEchoServer(t testing.TB) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadBytes('\n')
					if err != nil {
						return
					}
					if _, err := c.Write(line); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *echoServer) addr() string { return s.ln.Addr().String() }

func (s *echoServer) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func newProxy(t testing.TB, target string, opts ...Option) *Proxy {
	t.Helper()
	p, err := New(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// client is a line-protocol client with a bounded wait on every call.
type client struct {
	c net.Conn
	r *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &client{c: c, r: bufio.NewReader(c)}
}

// roundTrip sends one line and waits at most timeout for the echo.
func (c *client) roundTrip(msg string, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := c.c.SetDeadline(start.Add(timeout)); err != nil {
		return 0, err
	}
	if _, err := io.WriteString(c.c, msg+"\n"); err != nil {
		return 0, err
	}
	got, err := c.r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if got != msg+"\n" {
		return 0, fmt.Errorf("echo = %q, want %q", got, msg)
	}
	return time.Since(start), nil
}

// eventually polls cond for up to 2 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestForwardAndStats(t *testing.T) {
	srv := newEchoServer(t)
	p := newProxy(t, srv.addr())
	c1, c2 := dial(t, p.Addr()), dial(t, p.Addr())
	for i := range 10 {
		for _, c := range []*client{c1, c2} {
			if _, err := c.roundTrip(fmt.Sprint("hello ", i), 2*time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := p.Stats()
	if st.Accepted != 2 || st.Open != 2 || st.Requests != 20 {
		t.Fatalf("stats = %+v, want Accepted 2, Open 2, Requests 20", st)
	}
	_ = c1.c.Close()
	eventually(t, "Open == 1", func() bool { return p.Stats().Open == 1 })
	if got := p.Stats().Accepted; got != 2 {
		t.Fatalf("Accepted = %d, want 2", got)
	}
}

func TestLatency(t *testing.T) {
	const lat = 30 * time.Millisecond
	srv := newEchoServer(t)
	p := newProxy(t, srv.addr())
	c := dial(t, p.Addr())
	base, err := c.roundTrip("warm", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p.SetLatency(lat)
	for i := range 3 {
		rtt, err := c.roundTrip(fmt.Sprint("x", i), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if rtt < lat || rtt > lat+base+100*time.Millisecond {
			t.Fatalf("rtt with %v latency = %v (base %v)", lat, rtt, base)
		}
	}

	// Pipelined requests: released at read time + lat each, so the whole
	// burst takes about one latency, not five.
	start := time.Now()
	if err := c.c.SetDeadline(start.Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := fmt.Fprintf(c.c, "p%d\n", i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		got, err := c.r.ReadString('\n')
		if err != nil || got != fmt.Sprintf("p%d\n", i) {
			t.Fatalf("pipelined reply %d = %q, %v", i, got, err)
		}
	}
	if el := time.Since(start); el < lat || el > 3*lat {
		t.Fatalf("5 pipelined requests took %v, want about %v", el, lat)
	}

	p.SetLatency(0)
	if rtt, err := c.roundTrip("fast", 2*time.Second); err != nil || rtt > lat {
		t.Fatalf("after SetLatency(0): rtt %v, err %v", rtt, err)
	}
}

// stallRun sends n sequential requests and returns how many were slow and
// the proxy's Stalled count.
func stallRun(t *testing.T, seed int64, prob float64, d time.Duration, n int) (slow int, stalled int64) {
	srv := newEchoServer(t)
	p := newProxy(t, srv.addr(), WithSeed(seed))
	c := dial(t, p.Addr())
	p.SetStall(prob, d)
	for i := range n {
		rtt, err := c.roundTrip(fmt.Sprint(i), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if rtt >= d {
			slow++
		}
	}
	return slow, p.Stats().Stalled
}

func TestStallProbability(t *testing.T) {
	const (
		prob = 0.2
		d    = 10 * time.Millisecond
		n    = 300
	)
	slow, stalled := stallRun(t, 42, prob, d, n)
	// A loaded 2-core box can make an unstalled request slow too, so allow
	// a few extra slow ones but never fewer than the stalled ones.
	if int64(slow) < stalled || int64(slow) > stalled+n/20 {
		t.Fatalf("slow = %d, stalled = %d", slow, stalled)
	}
	if frac := float64(stalled) / n; frac < 0.12 || frac > 0.28 {
		t.Fatalf("stalled fraction = %.3f, want about %.2f", frac, prob)
	}
	// Same seed, same single connection: the same decisions.
	if _, again := stallRun(t, 42, prob, d, n); again != stalled {
		t.Fatalf("seed 42 stalled %d then %d requests", stalled, again)
	}
}

func TestBlackhole(t *testing.T) {
	srv := newEchoServer(t)
	p := newProxy(t, srv.addr())
	old := dial(t, p.Addr())
	if _, err := old.roundTrip("before", 2*time.Second); err != nil {
		t.Fatal(err)
	}

	p.SetBlackhole(true)
	if _, err := old.roundTrip("frozen", 100*time.Millisecond); !isTimeout(err) {
		t.Fatalf("existing conn in blackhole: err = %v, want timeout", err)
	}
	// New connections are accepted and stay open but never answer.
	var fresh []*client
	for range 3 {
		c := dial(t, p.Addr())
		if _, err := c.roundTrip("hello?", 100*time.Millisecond); !isTimeout(err) {
			t.Fatalf("new conn in blackhole: err = %v, want timeout", err)
		}
		fresh = append(fresh, c)
	}
	if st := p.Stats(); st.Open != 4 || st.Accepted != 4 || st.Swallowed < 4 {
		t.Fatalf("stats in blackhole = %+v, want Open 4, Accepted 4, Swallowed >= 4", st)
	}

	p.SetBlackhole(false)
	// Frozen conns are reset: their streams lost bytes.
	for _, c := range append(fresh, old) {
		if _, err := c.roundTrip("after", 2*time.Second); err == nil || isTimeout(err) {
			t.Fatalf("frozen conn after blackhole: err = %v, want reset/EOF", err)
		}
	}
	c := dial(t, p.Addr())
	if _, err := c.roundTrip("works", 2*time.Second); err != nil {
		t.Fatalf("new conn after blackhole: %v", err)
	}
	eventually(t, "Open == 1", func() bool { return p.Stats().Open == 1 })
}

func TestRefuse(t *testing.T) {
	srv := newEchoServer(t)
	p := newProxy(t, srv.addr())
	established := dial(t, p.Addr())

	if err := p.SetRefuse(true); err != nil {
		t.Fatal(err)
	}
	_, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while refusing: err = %v, want ECONNREFUSED", err)
	}
	if _, err := established.roundTrip("still here", 2*time.Second); err != nil {
		t.Fatalf("established conn while refusing: %v", err)
	}

	if err := p.SetRefuse(false); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, p.Addr()).roundTrip("back", 2*time.Second); err != nil {
		t.Fatalf("after SetRefuse(false): %v", err)
	}
}

func TestResetAll(t *testing.T) {
	srv := newEchoServer(t)
	p := newProxy(t, srv.addr())
	c := dial(t, p.Addr())
	if _, err := c.roundTrip("hi", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	p.ResetAll()
	_, err := c.roundTrip("gone", 2*time.Second)
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("after ResetAll: err = %v, want ECONNRESET", err)
	}
	if st := p.Stats(); st.Resets != 1 || st.Open != 0 {
		t.Fatalf("stats = %+v, want Resets 1, Open 0", st)
	}
	if _, err := dial(t, p.Addr()).roundTrip("new", 2*time.Second); err != nil {
		t.Fatalf("new conn after ResetAll: %v", err)
	}
}

func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close()
	p := newProxy(t, dead, WithDialTimeout(time.Second))
	start := time.Now()
	// The reset may race the client's connect, so it may fail at dial.
	c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err == nil {
		defer c.Close()
		cl := &client{c: c, r: bufio.NewReader(c)}
		_, err = cl.roundTrip("anyone?", 2*time.Second)
	}
	if err == nil || isTimeout(err) {
		t.Fatalf("target down: err = %v, want reset", err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Fatalf("target down took %v to fail", el)
	}
	if st := p.Stats(); st.DialErrors != 1 {
		t.Fatalf("DialErrors = %d, want 1", st.DialErrors)
	}
}

func TestClose(t *testing.T) {
	srv := newEchoServer(t)
	p, err := New(srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	p.SetLatency(time.Hour) // a parked writer must not block Close
	if err := c.c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c.c, "x\n"); err != nil {
		t.Fatal(err)
	}
	p.SetBlackhole(true)
	_ = dial(t, p.Addr())
	eventually(t, "Open == 2", func() bool { return p.Stats().Open == 2 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.r.ReadString('\n'); err == nil || isTimeout(err) {
		t.Fatalf("read after Close: err = %v, want EOF", err)
	}
	if err := p.SetRefuse(false); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetRefuse after Close: %v, want ErrClosed", err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("dial after Close succeeded")
	}
}

func TestNewBadTarget(t *testing.T) {
	if _, err := New("no-port"); err == nil {
		t.Fatal("New accepted a target without a port")
	}
}

// TestConcurrentFaults flips every fault while clients run, for -race.
func TestConcurrentFaults(t *testing.T) {
	srv := newEchoServer(t)
	p := newProxy(t, srv.addr(), WithSeed(1))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
				if err != nil {
					continue // refusing
				}
				cl := &client{c: c, r: bufio.NewReader(c)}
				for j := range 5 {
					if _, err := cl.roundTrip(fmt.Sprint(w, i, j), 50*time.Millisecond); err != nil {
						break
					}
				}
				_ = c.Close()
			}
		}()
	}
	for i := range 40 {
		switch i % 5 {
		case 0:
			p.SetLatency(time.Duration(i%3) * time.Millisecond)
		case 1:
			p.SetStall(0.3, 2*time.Millisecond)
		case 2:
			p.SetBlackhole(i%2 == 0)
		case 3:
			if err := p.SetRefuse(i%2 == 1); err != nil {
				t.Error(err)
			}
		case 4:
			p.ResetAll()
			_ = p.Stats()
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	p.SetBlackhole(false)
	if err := p.SetRefuse(false); err != nil {
		t.Fatal(err)
	}
	p.SetStall(0, 0)
	if _, err := dial(t, p.Addr()).roundTrip("calm", 2*time.Second); err != nil {
		t.Fatalf("after the storm: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestTrickle: with SetTrickle every byte of a reply arrives on its own,
// one interval apart, so a reader with a short per-read deadline keeps
// succeeding while the reply as a whole takes len × interval.
func TestTrickle(t *testing.T) {
	const every = 20 * time.Millisecond
	srv := newEchoServer(t)
	p := newProxy(t, srv.addr())
	c := dial(t, p.Addr())
	if _, err := c.roundTrip("warm", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	p.SetTrickle(every)
	msg := "abcdefghi" // 10 bytes with the newline
	if _, err := io.WriteString(c.c, msg+"\n"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got := make([]byte, 0, len(msg)+1)
	buf := make([]byte, 64)
	for len(got) < len(msg)+1 {
		// Each read must succeed within a per-read deadline far below the
		// whole reply's time, and bring one byte.
		if err := c.c.SetReadDeadline(time.Now().Add(10 * every)); err != nil {
			t.Fatal(err)
		}
		n, err := c.c.Read(buf)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
		if n != 1 {
			t.Fatalf("read %d bytes at once; want one at a time", n)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != msg+"\n" {
		t.Fatalf("got %q", got)
	}
	if el := time.Since(start); el < time.Duration(len(msg))*every {
		t.Fatalf("reply took %v; %d bytes at %v each take at least %v", el, len(msg)+1, every, time.Duration(len(msg))*every)
	}
	p.SetTrickle(0)
	if rtt, err := c.roundTrip("fast", 2*time.Second); err != nil || rtt > 10*every {
		t.Fatalf("after SetTrickle(0): rtt %v, err %v", rtt, err)
	}
}
