package online

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/internal/health"
	"github.com/tandemfs/tandem/internal/hedge"
	"github.com/tandemfs/tandem/region"
)

// Store reads from the online stores of every region with hedged,
// read-only statements. Create it with [New]; it is safe for concurrent
// use. Close it when done: it closes its pools and stops its background
// work.
type Store struct {
	cfg     Config
	topo    *health.Topology
	servers []*server // by health.Server.Index
	engine  *hedge.Engine
	clock   region.Clock
	log     *slog.Logger
	tel     *telemetry

	stmtMu sync.Mutex
	stmts  map[string]*Stmt

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
	// deferred counts due hedges held back because the answer was there.
	deferred atomic.Int64
	// singles counts the single (not batch) statements; under stmtMu.
	singles int
	once    sync.Once
	used    atomic.Bool // the background loop runs
	startMu sync.Mutex  // orders the loop's start against Close
}

// server is one MySQL server: its pool, health and tuned delays.
type server struct {
	rs    *health.Server
	pool  *pool
	mc    *mysql.Config // the pool's connections'
	probe *mysql.Config // probes': ProbeTimeout for every I/O

	// recent is the last second of the server's latencies (delay.go).
	recent *health.Sketch

	hedgeNs atomic.Int64 // adaptive hedge delay after an attempt here
	softNs  atomic.Int64 // an attempt running longer is a soft failure
	rttNs   atomic.Int64 // smoothed round trip of warm pings
	// targetRTTNs is the round trip of the hedge target after an attempt
	// here, as of the last refresh.
	targetRTTNs atomic.Int64
	warming     atomic.Bool
	// inline says reads whose first attempt is here run it on the
	// caller's goroutine: the server is rarely hedged (see conn.go).
	inline atomic.Bool
	// softEjects counts ejections by the soft-failure timer, which runs on
	// the engine's timer goroutine and must not log: the background loop
	// logs them.
	softEjects atomic.Int64
	// beaten is set when a hedge beat a running attempt here: the
	// background loop then recomputes the delays at once (noteBeaten).
	beaten atomic.Bool
}

// New validates cfg and builds a Store. It does no I/O and starts no
// goroutine: nothing dials until the Store is used (a read, [Store.Ping]
// or [Store.Warm]); the first use starts the background loop (pool
// warming, probes of ejected servers, delay refresh), which Close stops.
func New(cfg Config, opts ...Option) (*Store, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	specs := make([]health.Spec, 0, len(cfg.Regions))
	for _, r := range cfg.Regions {
		sp := health.Spec{ID: r.ID}
		for _, s := range r.Servers {
			sp.Servers = append(sp.Servers, s.Name)
		}
		specs = append(specs, sp)
	}
	topo, err := health.NewTopology(cfg.Local, specs, cfg.Health)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	s := &Store{
		cfg:    cfg,
		topo:   topo,
		engine: hedge.New(hedge.Config{AttemptTimeout: cfg.AttemptTimeout, CancelLosers: cfg.Hedge.CancelLosers, SelfBounded: true, Budget: cfg.Hedge.Budget.internal()}),
		clock:  o.clock,
		log:    o.logger,
		stmts:  map[string]*Stmt{},
	}
	if s.clock == nil {
		s.clock = region.SystemClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.tel, err = newTelemetry(o.tp, o.mp)
	if err != nil {
		return nil, fmt.Errorf("online: telemetry: %w", err)
	}
	type named struct {
		sc  ServerConfig
		tls *TLSConfig
	}
	byName := map[string]named{}
	for _, r := range cfg.Regions {
		for _, sc := range r.Servers {
			byName[sc.Name] = named{sc, r.TLS}
		}
	}
	for _, rs := range topo.Servers() {
		nm := byName[rs.Name]
		mc, err := cfg.mysqlConfig(nm.sc, nm.tls)
		if err != nil {
			return nil, fmt.Errorf("%w: server %q: %w", ErrInvalidConfig, rs.Name, err)
		}
		// Validate the config now (NewConnector does no I/O), so a bad
		// one fails New, not the first read.
		if _, err := mysql.NewConnector(mc); err != nil {
			return nil, fmt.Errorf("%w: server %q: %w", ErrInvalidConfig, rs.Name, err)
		}
		pc := mc.Clone()
		pc.Timeout, pc.ReadTimeout, pc.WriteTimeout = cfg.ProbeTimeout, cfg.ProbeTimeout, cfg.ProbeTimeout
		srv := &server{rs: rs, mc: mc, probe: pc, recent: health.NewSketch(recentSlots, recentSlotWidth)}
		srv.pool = &pool{
			max: cfg.MaxOpenConns, minIdle: cfg.MinIdleConns, lifetime: cfg.ConnMaxLifetime, maxIdleTime: cfg.ConnMaxIdleTime,
			stmtCap: cfg.MaxStmtsPerConn,
			dial:    func(ctx context.Context) (*pconn, error) { return dialConn(ctx, srv.mc) },
		}
		srv.hedgeNs.Store(int64(cfg.Hedge.Ceiling))
		if cfg.Hedge.Delay > 0 {
			srv.hedgeNs.Store(int64(cfg.Hedge.Delay))
		}
		srv.softNs.Store(int64(cfg.Hedge.SoftMin))
		s.servers = append(s.servers, srv)
	}
	s.tel.bind(s.servers)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// dialConn opens one connection to the server of mc through a sock the
// Store can interrupt. Each dial builds its own connector (a copy of the
// config and no I/O, microseconds against a dial's milliseconds), whose
// dial function hands back the sock it made: no side table from driver
// connections to socks, nothing carried in the context.
func dialConn(ctx context.Context, mc *mysql.Config) (*pconn, error) {
	var sk *sock
	m := *mc // shallow: the connector clones it again
	m.DialFunc = wrapDial(mc.DialFunc, &sk)
	c, err := mysql.NewConnector(&m)
	if err != nil {
		return nil, err
	}
	dc, err := connectSession(ctx, c)
	if err != nil {
		return nil, err
	}
	if sk == nil {
		_ = dc.Close()
		return nil, errors.New("online: the driver did not dial through the Store's dial function")
	}
	pc := &pconn{dc: dc, sock: sk, created: time.Now()}
	pc.idleAt = pc.created
	var ok bool
	if pc.prep, ok = dc.(driver.ConnPrepareContext); !ok {
		_ = dc.Close()
		return nil, fmt.Errorf("online: driver connection %T cannot prepare with a context", dc)
	}
	pc.checker, _ = dc.(driver.NamedValueChecker)
	pc.reset, _ = dc.(driver.SessionResetter)
	pc.valid, _ = dc.(driver.Validator)
	return pc, nil
}

// use starts the background loop on the Store's first use.
func (s *Store) use() {
	if s.used.Load() {
		return
	}
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if s.used.Load() || s.closed.Load() {
		return
	}
	s.wg.Add(1)
	go s.maintain()
	s.used.Store(true)
}

// Topology returns a snapshot of the Store's regions and their servers'
// health, local region first. It is a copy: changing it changes nothing.
func (s *Store) Topology() region.Topology {
	out := region.Topology{Local: s.topo.Local()}
	for _, id := range s.topo.Regions() {
		r := region.Region{ID: id}
		for _, rs := range s.topo.RegionServers(id) {
			r.Servers = append(r.Servers, region.Server{
				Name: rs.Name, State: rs.Health.State(), Ejections: rs.Health.Ejections(), InFlight: rs.Health.InFlight(),
			})
		}
		out.Regions = append(out.Regions, r)
	}
	return out
}

// Local is the local region.
func (s *Store) Local() region.ID { return s.topo.Local() }

// Ping checks that one server of every region answers, concurrently. It
// returns the errors of the regions that did not answer, joined.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.use()
	regions := s.topo.Regions()
	errs := make([]error, len(regions))
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last error
			for _, rs := range s.topo.RegionServers(r) {
				if last = s.servers[rs.Index].ping(ctx); last == nil {
					return
				}
				last = &RegionError{Region: r, Server: rs.Name, Op: "ping", Err: last}
			}
			errs[i] = last
		}()
	}
	wg.Wait()
	var out []error
	for _, e := range errs {
		if e != nil {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return fmt.Errorf("online: ping: %w", errors.Join(out...))
}

// ping checks the server on a pooled connection, dialled if none is idle.
func (srv *server) ping(ctx context.Context) error {
	deadline := time.Now().Add(srv.mc.ReadTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	pc, err := srv.pool.acquire(ctx, deadline, nil)
	if err != nil {
		return err
	}
	pc.begin(deadline)
	err = pc.ping(ctx)
	pc.end()
	srv.pool.release(pc)
	return err
}

// Close stops the background loop, waits for every attempt still running
// (each ends by its AttemptTimeout, a wait for a connection included) and
// closes the pools. It is idempotent; later calls return nil.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.startMu.Lock()
		s.closed.Store(true)
		s.startMu.Unlock()
		s.cancel()
		s.wg.Wait()
		s.engine.Close()
		s.tel.close()
		for _, srv := range s.servers {
			// A connection still held (an inline attempt on a caller's
			// goroutine) is closed when it is released.
			srv.pool.close()
		}
	})
	return nil
}

// ServerStats describes one server.
type ServerStats struct {
	Region region.ID
	Name   string
	State  region.State
	// Ejections is how many times the server was ejected.
	Ejections int64
	// P50 and P99 are over the latency window (0 without samples).
	P50, P99 time.Duration
	// HedgeDelay is the current adaptive delay after an attempt here.
	HedgeDelay time.Duration
	// Open, Idle and InUse are the pool's connections now (Open counts
	// those being dialled too).
	Open, Idle, InUse int
	// Opened counts connections ever opened; Discarded those closed for
	// an error or an interrupt rather than by the pool's own limits.
	Opened, Discarded int64
	// Statements is the number of prepared statements the Store holds on
	// the server, over all its connections: at most MaxOpenConns ×
	// MaxStmtsPerConn.
	Statements int64
}

// Stats describes the Store.
type Stats struct {
	Servers []ServerStats
	// HedgeTokens is the hedge budget left.
	HedgeTokens float64
	// HedgesDeferred counts the times a due hedge was held back because
	// every unfinished read of the attempt had its answer waiting in its
	// socket (the server had answered; the reading goroutine had not run).
	HedgesDeferred int64
	// Statements is the number of prepared statements the Store holds on
	// all servers.
	Statements int64
}

// Stats returns a snapshot of every server's state.
func (s *Store) Stats() Stats {
	now := s.clock.Now()
	out := Stats{HedgeTokens: s.engine.Budget().Tokens(), HedgesDeferred: s.deferred.Load()}
	qs := []float64{0.5, 0.99}
	q := make([]time.Duration, 2)
	for _, srv := range s.servers {
		q[0], q[1] = 0, 0
		srv.rs.Health.Latency().Quantiles(now, qs, q)
		st := srv.pool.stats()
		ss := ServerStats{
			Region: srv.rs.Region, Name: srv.rs.Name, State: srv.rs.Health.State(),
			Ejections: srv.rs.Health.Ejections(), P50: q[0], P99: q[1],
			HedgeDelay: time.Duration(srv.hedgeNs.Load()),
			Open:       st.open, Idle: st.idle, InUse: st.inUse,
			Opened: st.opened, Discarded: st.discarded, Statements: st.stmts,
		}
		out.Statements += st.stmts
		out.Servers = append(out.Servers, ss)
	}
	return out
}
