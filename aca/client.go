package aca

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/tandemfs/tandem/internal/httpx"
	"github.com/tandemfs/tandem/region"
)

// Client follows the ACA: it polls every endpoint each round and follows a
// state only when more than half of the configured endpoints report it.
//
// New starts the polling loop in the background (New itself does no I/O;
// the first round runs at once in the loop). Close stops it. A Client is
// safe for concurrent use. There is no useful zero value: use [New].
type Client struct {
	cfg       Config
	eps       []*endpointState
	http      *retryablehttp.Client
	ownClient *http.Client // the client we made, whose idle connections Close closes; nil if the caller gave one
	log       *slog.Logger
	clock     region.Clock
	m         *instruments

	// ctx is owned by the client: the loop and every round run on it, so
	// that no caller's cancel aborts work that others share.
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup // the loop, rounds, and watcher callbacks
	closeOnce sync.Once

	// roundMu guards inflight and queued. Lock order: roundMu before mu.
	roundMu  sync.Mutex
	inflight *round // the round under way
	queued   *round // the round Refresh callers wait for, started when inflight ends

	mu        sync.Mutex
	closed    bool
	view      view // the state, and when it was last confirmed
	createdAt time.Time
	lastErr   error
	ready     chan struct{} // closed when the first state is known
	watchers  map[*watcher]struct{}
}

// endpointState is one endpoint and what we remember of it. Rounds never
// overlap and each endpoint is polled by one goroutine per round, so these
// fields need no lock: the round's WaitGroup orders the accesses.
type endpointState struct {
	endpoint
	etag    string // the ETag of last; "" when we have none
	last    State  // the state of the last 2xx answer, reused on 304
	failing bool   // for logging transitions only
}

// round is one polling round, shared by the loop and concurrent Refresh
// calls.
type round struct {
	done chan struct{}
	err  error // nil when the round confirmed or changed the state
}

type watcher struct {
	ch   chan State
	stop func() bool // stops the context.AfterFunc that closes ch
}

// New validates cfg, applies opts and starts the polling loop. It does no
// I/O itself, so it neither blocks nor fails when the ACA is down; use
// [Client.WaitReady] to wait for the first state.
func New(cfg Config, opts ...Option) (*Client, error) {
	cfg, eps, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.meter == nil {
		o.meter = defaultOptions().meter
	}
	if o.logger == nil {
		o.logger = defaultOptions().logger
	}
	if o.clock == nil {
		o.clock = region.SystemClock{}
	}

	c := &Client{
		cfg:      cfg,
		log:      o.logger.With(slog.String("component", "aca")),
		clock:    o.clock,
		ready:    make(chan struct{}),
		watchers: make(map[*watcher]struct{}),
	}
	for _, ep := range eps {
		c.eps = append(c.eps, &endpointState{endpoint: ep})
	}
	hc := o.httpClient
	if hc == nil {
		// A transport of our own, so that Close can close its idle
		// connections without touching anyone else's.
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		c.ownClient = hc
	}
	c.http = &retryablehttp.Client{
		// A copy that refuses redirects: a judge's 3xx must not send the
		// poll (and any credentials of the transport) to another host.
		HTTPClient: httpx.NoRedirects(hc),
		// retryablehttp logs request URLs; ours may carry credentials, and
		// the client logs endpoint transitions itself.
		Logger: nil,
		// One quick retry smooths over a dropped keep-alive connection. The
		// polling loop is the real retry, so more would only delay the round
		// (the hops watchdog also starts its backoff at 5 ms).
		RetryMax:     1,
		RetryWaitMin: 5 * time.Millisecond,
		RetryWaitMax: 50 * time.Millisecond,
		CheckRetry:   checkRetry,
		// The default backoff honours Retry-After, which could hold the
		// retry past Timeout and turn a clear 503 into a timeout; the loop
		// does the long waiting.
		Backoff: func(lo, hi time.Duration, attempt int, _ *http.Response) time.Duration {
			return retryablehttp.DefaultBackoff(lo, hi, attempt, nil)
		},
		// Hand back the last response, so that a 503 is reported as a 503.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	c.createdAt = c.now()
	if c.m, err = newInstruments(c, o.meter); err != nil {
		return nil, err
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.loop()
	return c, nil
}

// checkRetry is retryablehttp's default policy, except that a refused
// redirect is final: asking again would only get the same 3xx.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if httpx.IsRedirect(err) {
		return false, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

func (c *Client) now() time.Time { return c.clock.Now() }

// Config returns the client's configuration with the defaults filled in.
func (c *Client) Config() Config {
	cfg := c.cfg
	cfg.Endpoints = append([]string(nil), c.cfg.Endpoints...)
	return cfg
}

// Current returns the state the client follows, and false while none is
// known. It never blocks on the network. After Close it returns the last
// state.
func (c *Client) Current() (State, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.view.state, c.view.known
}

// Active returns the active region, or [ErrNoActiveRegion] while no state is
// known. It never blocks on the network.
func (c *Client) Active() (region.ID, error) {
	st, ok := c.Current()
	if !ok {
		return "", ErrNoActiveRegion
	}
	return st.Active, nil
}

// LocalIsActive reports whether [Config.Local] is the active region. It
// returns [ErrNoActiveRegion] while no state is known, and an error wrapping
// [ErrInvalidConfig] when Config.Local is not set.
func (c *Client) LocalIsActive() (bool, error) {
	if c.cfg.Local == "" {
		return false, fmt.Errorf("%w: LocalIsActive needs Config.Local", ErrInvalidConfig)
	}
	a, err := c.Active()
	if err != nil {
		return false, err
	}
	return a.Equal(c.cfg.Local), nil
}

// Staleness returns how long ago the current state was last confirmed
// (more than half of the configured endpoints reported it), measured from
// the start of the confirming round: an answer may be as old as that. It
// grows while the endpoints fail or no state has a quorum. Before the first
// state is known it is the time since New.
func (c *Client) Staleness() time.Duration {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.view.staleness(now, c.createdAt)
}

// CurrentWithin returns the current state if it was confirmed no longer
// than maxAge ago (see [Client.Staleness] for how age is measured). It never
// blocks on the network. It returns [ErrNoActiveRegion] while no state is
// known, an error wrapping [ErrStale] (with the age and the limit) when the
// state is older than maxAge, and one wrapping [ErrInvalidConfig] when
// maxAge is not positive. Writes and offline reads use it so that they
// never trust an old answer.
func (c *Client) CurrentWithin(maxAge time.Duration) (State, error) {
	if maxAge <= 0 {
		return State{}, fmt.Errorf("%w: CurrentWithin(%v): the age limit must be positive", ErrInvalidConfig, maxAge)
	}
	now := c.now()
	c.mu.Lock()
	v, created := c.view, c.createdAt
	c.mu.Unlock()
	if !v.known {
		return State{}, ErrNoActiveRegion
	}
	if age := v.staleness(now, created); age > maxAge {
		return State{}, fmt.Errorf("%w: confirmed %v ago, limit %v (active was %s; see LastError for why no round confirmed it since)",
			ErrStale, age.Round(time.Millisecond), maxAge, v.state.Active)
	}
	return v.state, nil
}

// LastError returns why the last polling round did not confirm a state
// (wrapping [ErrAllEndpointsFailed], [ErrNoMajority] or [ErrOlderEpoch], and
// the [EndpointError]s), or nil if it did.
func (c *Client) LastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// WaitReady blocks until a state is known, ctx ends or the client closes.
// When ctx ends first the error wraps both [ErrNoActiveRegion] and ctx's
// error, and tells why the last round failed.
func (c *Client) WaitReady(ctx context.Context) (State, error) {
	c.mu.Lock()
	closed, st, known, ready := c.closed, c.view.state, c.view.known, c.ready
	c.mu.Unlock()
	switch {
	case closed:
		return State{}, ErrClosed
	case known:
		return st, nil
	}
	select {
	case <-ready:
		st, _ := c.Current()
		return st, nil
	case <-c.ctx.Done():
		return State{}, ErrClosed
	case <-ctx.Done():
		if last := c.LastError(); last != nil {
			return State{}, fmt.Errorf("%w: %w (last round: %v)", ErrNoActiveRegion, context.Cause(ctx), last)
		}
		return State{}, fmt.Errorf("%w: %w", ErrNoActiveRegion, context.Cause(ctx))
	}
}

// Refresh polls every endpoint now and returns the state the client follows
// afterwards. The round it waits for starts after the call, so its answers
// are newer than whatever made the caller ask; Refresh calls that come while
// a round is under way share the one that follows it. The round runs on the
// client's context: if ctx ends first, Refresh returns ctx's error but the
// round still completes for everyone else.
//
// Refresh reports no error when the round fails but a state is still known
// (static stability): it returns that state, and [Client.Staleness] and
// [Client.LastError] tell how fresh it is. With no state known, the error
// wraps [ErrNoActiveRegion] and the round's error.
func (c *Client) Refresh(ctx context.Context) (State, error) {
	r, err := c.beginRound(true)
	if err != nil {
		return State{}, err
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return State{}, fmt.Errorf("aca: refresh: %w", context.Cause(ctx))
	}
	if c.ctx.Err() != nil {
		return State{}, ErrClosed
	}
	st, ok := c.Current()
	if !ok {
		if r.err != nil {
			return State{}, fmt.Errorf("%w: %w", ErrNoActiveRegion, r.err)
		}
		return State{}, ErrNoActiveRegion
	}
	return st, nil
}

// Watch returns a channel that receives the current state at once, if one
// is known, and then every change. Its buffer holds one state and a newer
// change replaces an unread one, so a slow reader sees the latest state and
// never blocks the poller. The channel is closed when ctx ends or the client
// closes; after Close, Watch returns a closed channel.
func (c *Client) Watch(ctx context.Context) <-chan State {
	ch := make(chan State, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		close(ch)
		return ch
	}
	if c.view.known {
		ch <- c.view.state
	}
	w := &watcher{ch: ch}
	c.watchers[w] = struct{}{}
	c.wg.Add(1) // released by the AfterFunc, or by Close if it stops it first
	w.stop = context.AfterFunc(ctx, func() {
		defer c.wg.Done()
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.watchers[w]; ok {
			delete(c.watchers, w)
			close(w.ch)
		}
	})
	return ch
}

// Close stops polling, closes every Watch channel and waits until every
// goroutine of the client has returned. It closes the idle connections of
// the HTTP client it made, not those of one given with [WithHTTPClient].
// Close is idempotent and always returns nil; later calls that can fail
// return [ErrClosed].
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		for w := range c.watchers {
			if w.stop() {
				c.wg.Done() // its AfterFunc will never run
			}
			delete(c.watchers, w)
			close(w.ch)
		}
		c.mu.Unlock()
		c.cancel()
		c.wg.Wait()
		if err := c.m.reg.Unregister(); err != nil {
			c.log.Debug("aca: unregistering metric callback", slog.Any("error", err))
		}
		if c.ownClient != nil {
			c.ownClient.CloseIdleConnections()
		}
	})
	return nil
}

// Backoff after a round that did not confirm a state.
const (
	retryMin = 5 * time.Millisecond
	// retryMaxShift caps the doubling; 5ms << 20 is far above any Interval.
	retryMaxShift = 20
)

// loop runs a round at once, then one every Interval, shortened by jitter.
// After a round that confirmed nothing it tries again sooner, backing off
// from 5ms up to Interval as the hops watchdog does: a blip then costs
// milliseconds of staleness rather than a whole interval, which would push a
// Watchdog with the default StaleLimit into stopping its work.
func (c *Client) loop() {
	defer c.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		r, err := c.beginRound(false)
		if err != nil {
			return
		}
		select {
		case <-r.done:
		case <-c.ctx.Done():
			return
		}
		if r.err != nil {
			failures++
		} else {
			failures = 0
		}
		t.Reset(nextWait(c.cfg, failures, rand.Float64()))
	}
}

// beginRound returns a round to wait for. With fresh false (the loop) it
// joins the round under way, if any. With fresh true (Refresh) the round
// must start after the call, so that a caller who saw a region change never
// gets an answer sent before it: while a round is under way, such callers
// share one queued round that starts when it ends.
func (c *Client) beginRound(fresh bool) (*round, error) {
	c.roundMu.Lock()
	defer c.roundMu.Unlock()
	switch {
	case c.inflight == nil:
		return c.launchLocked(&round{done: make(chan struct{})})
	case !fresh:
		return c.inflight, nil
	}
	if c.ctx.Err() != nil {
		return nil, ErrClosed
	}
	if c.queued == nil {
		c.queued = &round{done: make(chan struct{})}
	}
	return c.queued, nil
}

// launchLocked starts r. c.roundMu must be held.
func (c *Client) launchLocked(r *round) (*round, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	// Add under mu, after the closed check: Close sets closed under mu
	// before it waits, so no Add can race with its Wait.
	c.wg.Add(1)
	c.mu.Unlock()
	c.inflight = r
	go func() {
		defer c.wg.Done()
		r.err = c.runRound()
		c.roundMu.Lock()
		c.inflight = nil
		if q := c.queued; q != nil {
			c.queued = nil
			if _, err := c.launchLocked(q); err != nil {
				q.err = err
				close(q.done)
			}
		}
		c.roundMu.Unlock()
		close(r.done)
	}()
	return r, nil
}

// runRound polls every endpoint at once and applies the vote. The round is
// stamped with its start: see [view].
func (c *Client) runRound() error {
	start := c.now()
	results := make([]pollResult, len(c.eps))
	var wg sync.WaitGroup
	for i, ep := range c.eps {
		wg.Go(func() { results[i] = c.poll(c.ctx, ep) })
	}
	wg.Wait()
	if c.ctx.Err() != nil {
		// Closing: the failures are ours, not the endpoints'.
		return ErrClosed
	}
	return c.apply(start, results)
}
