package featurestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/metadata"
	"github.com/tandemfs/tandem/online"
)

// Client is the entry point of Tandem: it reads feature vectors of
// Hopsworks feature views from the online stores of every region, and
// reads and writes feature view metadata.
//
// Build it with [New]; it has no useful zero value. It is safe for
// concurrent use. Close it when done: Close closes only what New opened
// (not the parts given with WithACA, WithMetadata or WithOnline).
type Client struct {
	cfg  Config
	md   *metadata.Client
	acaC *aca.Client
	// store is the online store: given, created by New, or created by
	// the first load when a region is discovered (onlineStore).
	store     atomic.Pointer[online.Store]
	storeMu   sync.Mutex // serialises discovery
	storeOpts []online.Option
	owned     []func() error // closers of what New opened, in close order
	log       *slog.Logger
	tel       *telemetry

	planOpts planOptions

	plans  *ttlLRU[viewKey, *FeatureView] // fresh plans, TTL-bound
	sf     singleflight.Group
	viewMu sync.Mutex
	// views remembers the handles loaded, fresh or not, up to
	// Config.MaxPlans: a plan is not forgotten because metadata is down
	// (static stability); past the cap the least recently used is.
	views map[viewKey]*FeatureView

	ctx       context.Context // owned: background refresh and loads run on it
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	lifeMu    sync.Mutex // orders wg.Add against Close
	closed    atomic.Bool
	closeOnce sync.Once
}

type viewKey struct {
	name    string
	version int
}

func (k viewKey) String() string { return fmt.Sprintf("%s v%d", k.name, k.version) }

// FeatureView is a handle on one feature view version and its serving
// plan. Get it with [Client.FeatureView] and keep it: lookups through it
// need neither metadata nor the ACA, and the Client refreshes its plan in
// the background. It is safe for concurrent use and needs no closing; it
// stops working (ErrClosed) when its Client is closed.
type FeatureView struct {
	c     *Client
	key   viewKey
	plan  atomic.Pointer[plan]
	used  atomic.Int64 // unix nanos of the last use, coarse
	cache *ttlLRU[string, cachedVector]
}

// Name is the feature view's name.
func (fv *FeatureView) Name() string { return fv.key.name }

// Version is the feature view's version.
func (fv *FeatureView) Version() int { return fv.key.version }

// Features returns the names of the vector's features, in vector order:
// a copy the caller may keep and change (Vector.Names is shared).
func (fv *FeatureView) Features() []string { return append([]string(nil), fv.plan.Load().names...) }

// ServingKeys returns every entry key the view accepts, sorted.
func (fv *FeatureView) ServingKeys() []string { return append([]string(nil), fv.plan.Load().valid...) }

// LoadedAt is when the plan in use was loaded from metadata.
func (fv *FeatureView) LoadedAt() time.Time { return fv.plan.Load().loaded }

func (fv *FeatureView) touch() {
	now := time.Now().UnixNano()
	// Only store when it moved by a second: a shared cache line written
	// on every lookup would cost more than the lookup's bookkeeping.
	if now-fv.used.Load() > int64(time.Second) {
		fv.used.Store(now)
	}
}

// New validates cfg and wires the metadata client, the ACA client and the
// online store (or uses those given as options). It does no I/O: pools
// dial lazily and the ACA is polled in the background. Call [Client.Ping]
// to check the online store up front.
func New(cfg Config, opts ...Option) (*Client, error) {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	cfg, err := cfg.normalize(&o)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, log: o.logger, views: map[viewKey]*FeatureView{}, planOpts: planOptions{keyAliases: o.keyAliases, tf: o.tf}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.tel, err = newTelemetry(o.tp, o.mp); err != nil {
		return nil, fmt.Errorf("featurestore: telemetry: %w", err)
	}
	fail := func(err error) (*Client, error) {
		c.closeOwned()
		return nil, err
	}
	c.acaC = o.aca
	if c.acaC == nil && len(cfg.ACAEndpoints) > 0 {
		var aopts []aca.Option
		if o.mp != nil {
			aopts = append(aopts, aca.WithMeterProvider(o.mp))
		}
		if o.hc != nil {
			aopts = append(aopts, aca.WithHTTPClient(o.hc))
		}
		aopts = append(aopts, aca.WithLogger(c.log))
		a, err := aca.New(aca.Config{Endpoints: cfg.ACAEndpoints, Interval: cfg.ACAInterval, Local: cfg.Local}, aopts...)
		if err != nil {
			return fail(fmt.Errorf("%w: ACA: %w", ErrInvalidConfig, err))
		}
		c.acaC = a
		c.owned = append(c.owned, a.Close)
	}
	c.md = o.md
	if c.md == nil {
		mopts := []metadata.Option{metadata.WithLogger(c.log)}
		if c.acaC != nil {
			mopts = append(mopts, metadata.WithActiveSource(c.acaC))
		}
		if o.tp != nil {
			mopts = append(mopts, metadata.WithTracerProvider(o.tp))
		}
		if o.mp != nil {
			mopts = append(mopts, metadata.WithMeterProvider(o.mp))
		}
		if o.hc != nil {
			mopts = append(mopts, metadata.WithHTTPClient(o.hc))
		}
		m, err := metadata.New(cfg.metadataConfig(), mopts...)
		if err != nil {
			return fail(fmt.Errorf("%w: metadata: %w", ErrInvalidConfig, err))
		}
		c.md = m
		c.owned = append(c.owned, m.Close)
	}
	c.store.Store(o.store)
	if o.store == nil {
		c.storeOpts = []online.Option{online.WithLogger(c.log)}
		if o.tp != nil {
			c.storeOpts = append(c.storeOpts, online.WithTracerProvider(o.tp))
		}
		if o.mp != nil {
			c.storeOpts = append(c.storeOpts, online.WithMeterProvider(o.mp))
		}
		// With a region to discover, the store is created on first use
		// (discovery reads metadata, and New does no I/O); otherwise now,
		// so that its config is checked here.
		if !cfg.discovered() {
			s, err := online.New(cfg.onlineConfig(nil), c.storeOpts...)
			if err != nil {
				return fail(fmt.Errorf("%w: online: %w", ErrInvalidConfig, err))
			}
			c.store.Store(s)
			c.owned = append(c.owned, s.Close)
		}
	}
	c.plans = newTTLLRU[viewKey, *FeatureView](cfg.MaxPlans, cfg.PlanTTL)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.refreshLoop()
	return c, nil
}

// Metadata returns the metadata client in use.
func (c *Client) Metadata() *metadata.Client { return c.md }

// ACA returns the ACA client in use, or nil when there is none.
func (c *Client) ACA() *aca.Client { return c.acaC }

// Online returns the online store in use, or nil while a region's online
// store is still to be discovered (until the first FeatureView or Ping).
func (c *Client) Online() *online.Store { return c.store.Load() }

// Ping checks that one MySQL server of every region answers.
func (c *Client) Ping(ctx context.Context) error {
	if !c.enter() {
		return ErrClosed
	}
	defer c.wg.Done()
	s, err := c.onlineStore(ctx)
	if err != nil {
		return err
	}
	return s.Ping(ctx)
}

// Close stops the background refresh, waits for plan loads in flight and
// closes what New opened (the ACA client, the metadata client and the
// online store, unless they were given as options). It is idempotent;
// calls made afterwards return ErrClosed.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.lifeMu.Lock()
		c.closed.Store(true)
		c.lifeMu.Unlock()
		c.cancel()
		c.wg.Wait()
		err = c.closeOwned()
	})
	return err
}

func (c *Client) closeOwned() error {
	var errs []error
	// Reverse order: the store, then metadata, then the ACA it follows.
	for i := len(c.owned) - 1; i >= 0; i-- {
		if err := c.owned[i](); err != nil {
			errs = append(errs, err)
		}
	}
	c.owned = nil
	return errors.Join(errs...)
}

// enter registers background work; it fails once Close has begun, so
// that Close's Wait sees every Add.
func (c *Client) enter() bool {
	c.lifeMu.Lock()
	defer c.lifeMu.Unlock()
	if c.closed.Load() {
		return false
	}
	c.wg.Add(1)
	return true
}

// FeatureView returns the handle of a feature view version with its
// serving plan: the view's metadata plus its single and batch prepared
// statements, validated. The plan is cached (Config.PlanTTL) and
// refreshed in the background; once a view is known, FeatureView answers
// without metadata even when metadata is down (the last good plan is
// kept). Concurrent first loads of a view share one load, which runs on
// the Client's own context: a caller that gives up does not cancel it for
// the others.
func (c *Client) FeatureView(ctx context.Context, name string, version int) (*FeatureView, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	k := viewKey{name, version}
	if fv, ok := c.plans.Get(k); ok {
		fv.touch()
		return fv, nil
	}
	c.viewMu.Lock()
	known := c.views[k]
	c.viewMu.Unlock()
	if known != nil {
		// Known but stale: the background refresh is on it. Serve the
		// last good plan now rather than wait for metadata.
		known.touch()
		if fresh := time.Since(known.plan.Load().loaded) < c.cfg.PlanTTL; fresh {
			c.plans.Add(k, known)
		}
		return known, nil
	}
	ch := c.sf.DoChan(k.String(), func() (any, error) { return c.load(k) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		fv := r.Val.(*FeatureView)
		fv.touch()
		return fv, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// load fetches and builds a plan under the Client's context, then installs
// it: into the known handle if there is one (so every holder sees the new
// plan), else into a new handle.
func (c *Client) load(k viewKey) (*FeatureView, error) {
	if !c.enter() {
		return nil, ErrClosed
	}
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.LoadTimeout)
	defer cancel()
	p, err := c.fetchPlan(ctx, k)
	if err != nil {
		if c.closed.Load() {
			return nil, ErrClosed
		}
		return nil, err
	}
	c.viewMu.Lock()
	fv := c.views[k]
	if fv == nil {
		fv = &FeatureView{c: c, key: k}
		if t := c.cfg.VectorCache.TTL; t > 0 {
			fv.cache = newTTLLRU[string, cachedVector](c.cfg.VectorCache.Size, t)
		}
		c.evictLocked()
		c.views[k] = fv
	}
	fv.plan.Store(p)
	c.viewMu.Unlock()
	if fv.cache != nil {
		// Cached vectors follow the old plan's feature order.
		fv.cache.Purge()
	}
	c.plans.Add(k, fv)
	c.tel.planLoaded(ctx)
	return fv, nil
}

func (c *Client) fetchPlan(ctx context.Context, k viewKey) (*plan, error) {
	var (
		view          *metadata.FeatureView
		single, batch []metadata.PreparedStatement
	)
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() (err error) { view, err = c.md.FeatureView(ectx, k.name, k.version); return })
	eg.Go(func() (err error) { single, err = c.md.PreparedStatements(ectx, k.name, k.version, false); return })
	eg.Go(func() (err error) { batch, err = c.md.PreparedStatements(ectx, k.name, k.version, true); return })
	if err := eg.Wait(); err != nil {
		return nil, fmt.Errorf("featurestore: loading feature view %s: %w", k, err)
	}
	if view == nil {
		// Never (nil, nil) from metadata, but a nil view must not crash
		// a load that runs for every caller.
		return nil, fmt.Errorf("featurestore: loading feature view %s: %w: metadata returned no view", k, ErrInvalidPlan)
	}
	store, err := c.onlineStore(ctx)
	if err != nil {
		return nil, err
	}
	p, err := buildPlan(store, view, single, batch, c.planOpts)
	if err == nil {
		p.helpers, err = c.fetchHelpers(ctx, store, view)
	}
	if err == nil {
		err = c.loadComplex(ctx, p, p.helpers)
	}
	return c.transformPlan(ctx, view, p, err) // transform.go
}

// refreshLoop reloads plans that are past half their TTL, so that a
// used plan is replaced before it expires. A failed refresh keeps the old
// plan (logged and counted) and is retried on the next tick.
func (c *Client) refreshLoop() {
	defer c.wg.Done()
	tick := max(c.cfg.PlanTTL/4, 10*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		c.viewMu.Lock()
		var due []*FeatureView
		now := time.Now()
		for _, fv := range c.views {
			age := now.Sub(fv.plan.Load().loaded)
			idle := now.Sub(time.Unix(0, fv.used.Load()))
			// Plans nobody used for a while are left to expire; a
			// later FeatureView call still finds the last good one.
			if age >= c.cfg.PlanTTL/2 && idle < 4*c.cfg.PlanTTL {
				due = append(due, fv)
			}
		}
		c.viewMu.Unlock()
		for _, fv := range due {
			if c.ctx.Err() != nil {
				return
			}
			c.refresh(fv)
		}
	}
}

func (c *Client) refresh(fv *FeatureView) {
	ch := c.sf.DoChan(fv.key.String(), func() (any, error) { return c.load(fv.key) })
	var r singleflight.Result
	select {
	case r = <-ch:
	case <-c.ctx.Done():
		return
	}
	if r.Err == nil || errors.Is(r.Err, ErrClosed) {
		return
	}
	c.tel.refreshFailed(c.ctx)
	c.log.LogAttrs(c.ctx, slog.LevelWarn, "featurestore: plan refresh failed; serving the last good plan",
		slog.String("feature_view", fv.key.name), slog.Int("version", fv.key.version),
		slog.Duration("age", time.Since(fv.plan.Load().loaded)), slog.String("error", r.Err.Error()))
	// Keep serving the last good plan without a metadata round trip per
	// FeatureView call; the next tick tries again.
	c.plans.Add(fv.key, fv)
}

// evictLocked makes room for one more handle when views holds MaxPlans:
// it forgets the least recently used one. A caller that still holds it
// keeps reading with its last plan, which is no longer refreshed; the
// next FeatureView call for it loads the view again. c.viewMu is held.
func (c *Client) evictLocked() {
	if len(c.views) < c.cfg.MaxPlans {
		return
	}
	var (
		oldest viewKey
		when   int64
		found  bool
	)
	for k, fv := range c.views {
		if u := fv.used.Load(); !found || u < when {
			oldest, when, found = k, u, true
		}
	}
	delete(c.views, oldest)
	c.plans.Remove(oldest)
}

// forget drops a view's plan after this Client wrote it, so the next
// FeatureView call loads the new one (read-your-writes).
func (c *Client) forget(k viewKey) {
	c.plans.Remove(k)
	c.viewMu.Lock()
	fv := c.views[k]
	delete(c.views, k)
	c.viewMu.Unlock()
	if fv != nil && fv.cache != nil {
		fv.cache.Purge()
	}
}

// CreateFeatureView creates a feature view in the active region (per the
// ACA) and returns it as that region stored it. Reads of the view right
// after go to the region that took the write until the local region shows
// it (read-your-writes). See metadata.Client.CreateFeatureView.
func (c *Client) CreateFeatureView(ctx context.Context, spec metadata.FeatureViewSpec) (*metadata.FeatureView, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	fv, err := c.md.CreateFeatureView(ctx, spec)
	if err == nil {
		c.forget(viewKey{fv.Name, fv.Version})
	}
	return fv, err
}

// DeleteFeatureView deletes a feature view version in the active region.
// See metadata.Client.DeleteFeatureView.
func (c *Client) DeleteFeatureView(ctx context.Context, name string, version int) error {
	if c.closed.Load() {
		return ErrClosed
	}
	err := c.md.DeleteFeatureView(ctx, name, version)
	if err == nil {
		c.forget(viewKey{name, version})
	}
	return err
}

// wrapRead names the view in an online error; the online error (and the
// driver's *mysql.MySQLError) stays reachable with errors.As.
func (c *Client) wrapRead(p *plan, err error) error {
	if errors.Is(err, online.ErrClosed) {
		if c.closed.Load() {
			return ErrClosed
		}
	}
	// A read that no server could serve for a transient reason is a total
	// online outage: it matches ErrUnavailable. The caller's cancel is not.
	unavailable := online.IsRetryable(err) && !errors.Is(err, context.Canceled)
	return &readError{view: p.name, version: p.version, err: err, unavailable: unavailable}
}
