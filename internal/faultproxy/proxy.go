package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by calls on a [Proxy] after [Proxy.Close].
var ErrClosed = errors.New("faultproxy: proxy closed")

// Stats is a snapshot of a proxy's counters. Its zero value means "nothing
// happened yet".
type Stats struct {
	// Open is the number of client connections open right now, including
	// frozen (blackholed) ones. Tests use it to prove that a client caps its
	// open connections to a blackholed region.
	Open int64
	// Accepted counts client connections accepted since New.
	Accepted int64
	// Requests counts client→server reads (our approximation of requests),
	// whether forwarded, stalled or swallowed.
	Requests int64
	// Stalled counts requests held back by SetStall.
	Stalled int64
	// Swallowed counts chunks (either direction) dropped by the blackhole.
	Swallowed int64
	// Resets counts connections reset by ResetAll, by SetBlackhole(false)
	// or because the target could not be dialled.
	Resets int64
	// DialErrors counts failed dials to the target.
	DialErrors int64
}

// Proxy forwards TCP connections from its listen address to a target address
// and injects faults on demand. Create it with [New]; the zero value is not
// usable. It is safe for concurrent use. The caller must call [Proxy.Close],
// which closes the listener and every connection the proxy accepted or
// dialled.
type Proxy struct {
	target      string
	addr        string // the bound address; reused by SetRefuse(false)
	dialTimeout time.Duration

	// ctx is cancelled by Close so that in-flight dials give up at once.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loops and per-connection goroutines

	latency atomic.Int64 // nanoseconds, server→client
	trickle atomic.Int64 // nanoseconds between server→client bytes; 0: off

	accepted, requests, stalled, swallowed, resets, dialErrors atomic.Int64

	mu        sync.Mutex
	closed    bool
	ln        net.Listener // nil while refusing
	links     map[*link]struct{}
	blackhole bool
	stallP    float64
	stallD    time.Duration
	rng       *rand.Rand // guarded by mu: rand.Rand is not safe for concurrent use
}

// New starts a proxy to target (host:port). It binds the listen address
// (default "127.0.0.1:0", see [WithListenAddr]) and starts accepting, but
// does not dial target until a client connects, so target need not be up
// yet.
func New(target string, opts ...Option) (*Proxy, error) {
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("faultproxy: bad target %q: %w", target, err)
	}
	o := options{listenAddr: "127.0.0.1:0", dialTimeout: 5 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	seed := o.seed
	if !o.seeded {
		seed = rand.Uint64()
	}
	ln, err := net.Listen("tcp", o.listenAddr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen on %s: %w", o.listenAddr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target:      target,
		addr:        ln.Addr().String(),
		dialTimeout: o.dialTimeout,
		ctx:         ctx,
		cancel:      cancel,
		ln:          ln,
		links:       make(map[*link]struct{}),
		rng:         rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	p.wg.Add(1)
	go p.acceptLoop(ln)
	return p, nil
}

// Addr returns the address clients should dial, e.g. "127.0.0.1:41235". It
// stays the same across SetRefuse.
func (p *Proxy) Addr() string { return p.addr }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// SetLatency sets the one-way delay added to server→client bytes, so each
// round trip gets +d. It applies to bytes read from the server after the call;
// d <= 0 removes the delay.
func (p *Proxy) SetLatency(d time.Duration) {
	p.latency.Store(int64(max(d, 0)))
}

// SetTrickle makes the proxy pass server→client data on one byte at a
// time, each after d, as a server that is alive but paces its bytes: every
// read of the client succeeds, so a per-read socket timeout never fires.
// It applies to data written after the call; d <= 0 turns it off.
func (p *Proxy) SetTrickle(d time.Duration) {
	p.trickle.Store(int64(max(d, 0)))
}

// SetStall makes each client→server read be held for d, with probability p,
// before it is forwarded. p is clamped to [0, 1]; p == 0 or d <= 0 disables
// stalls. With [WithSeed] the sequence of decisions is reproducible (their
// assignment to connections still depends on scheduling).
func (p *Proxy) SetStall(prob float64, d time.Duration) {
	if !(prob > 0) { // also catches NaN
		prob = 0
	}
	p.mu.Lock()
	p.stallP = min(prob, 1)
	p.stallD = max(d, 0)
	p.mu.Unlock()
}

// SetBlackhole turns the blackhole on or off. While on, new connections are
// accepted but never dialled, existing connections freeze, and bytes in both
// directions are swallowed; nothing is closed. Turning it off resets every
// frozen connection, because bytes were lost and the MySQL stream is no longer
// in sync, and lets new connections through normally.
func (p *Proxy) SetBlackhole(on bool) {
	p.mu.Lock()
	p.blackhole = on
	var frozen []*link
	for l := range p.links {
		if on {
			l.frozen.Store(true)
		} else if l.frozen.Load() {
			frozen = append(frozen, l)
		}
	}
	p.mu.Unlock()
	for _, l := range frozen {
		l.close(true)
	}
}

// SetRefuse stops listening (on) so that dials get "connection refused", or
// listens again on the same address (off). Established connections are not
// touched. It returns an error if the address cannot be bound again (another
// process took the port) or after Close.
func (p *Proxy) SetRefuse(on bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if on {
		if p.ln != nil {
			err := p.ln.Close()
			p.ln = nil
			if err != nil {
				return fmt.Errorf("faultproxy: close listener: %w", err)
			}
		}
		return nil
	}
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("faultproxy: listen again on %s: %w", p.addr, err)
	}
	p.ln = ln
	p.wg.Add(1)
	go p.acceptLoop(ln)
	return nil
}

// ResetAll resets every open connection: the client sees ECONNRESET rather
// than a clean EOF (SO_LINGER 0, then close).
func (p *Proxy) ResetAll() {
	for _, l := range p.snapshot() {
		l.close(true)
	}
}

// Stats returns a snapshot of the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	open := int64(len(p.links))
	p.mu.Unlock()
	return Stats{
		Open:       open,
		Accepted:   p.accepted.Load(),
		Requests:   p.requests.Load(),
		Stalled:    p.stalled.Load(),
		Swallowed:  p.swallowed.Load(),
		Resets:     p.resets.Load(),
		DialErrors: p.dialErrors.Load(),
	}
}

// Close stops the listener, closes every connection and waits for all the
// proxy's goroutines to exit. It is idempotent and always returns nil; the
// error is there for io.Closer.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.ln != nil {
		_ = p.ln.Close() // only fails if already closed
		p.ln = nil
	}
	p.mu.Unlock()
	p.cancel()
	// No link can be added once closed is set, so this snapshot is complete.
	for _, l := range p.snapshot() {
		l.close(false)
	}
	p.wg.Wait()
	return nil
}

func (p *Proxy) snapshot() []*link {
	p.mu.Lock()
	defer p.mu.Unlock()
	ls := make([]*link, 0, len(p.links))
	for l := range p.links {
		ls = append(ls, l)
	}
	return ls
}

func (p *Proxy) acceptLoop(ln net.Listener) {
	defer p.wg.Done()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: back off like net/http does instead of
			// spinning, and keep serving.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
				continue
			case <-p.ctx.Done():
				return
			}
		}
		backoff = 0
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			return
		}
		l := &link{p: p, client: c, done: make(chan struct{})}
		blackholed := p.blackhole
		l.frozen.Store(blackholed)
		p.links[l] = struct{}{}
		// Add while holding mu and before Close can observe closed: Close's
		// Wait therefore covers this goroutine.
		p.wg.Add(1)
		p.mu.Unlock()
		p.accepted.Add(1)
		go l.run(blackholed)
	}
}

// rollStall decides whether the next request is stalled and for how long.
func (p *Proxy) rollStall() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stallP <= 0 || p.stallD <= 0 {
		return 0 // do not consume the RNG, so a seed's sequence starts at SetStall
	}
	if p.rng.Float64() < p.stallP {
		return p.stallD
	}
	return 0
}
