package online

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/internal/hedge"
	"github.com/tandemfs/tandem/region"
)

// Store reads from the online stores of every region with hedged,
// read-only statements. Create it with [New]; it is safe for concurrent
// use. Close it when done: it closes the pools it opened (not those given
// with [WithDB]) and stops its background work.
type Store struct {
	cfg     Config
	topo    *region.Topology
	servers []*server // by region.Server.Index
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
	once   sync.Once
}

// server is one MySQL server: its pool, health and tuned delays.
type server struct {
	rs     *region.Server
	db     *sql.DB
	owned  bool
	probes driver.Connector // for probes on fresh connections
	conn   *connector       // the pool's, nil for a pool given with WithDB

	hedgeNs atomic.Int64 // adaptive hedge delay after an attempt here
	softNs  atomic.Int64 // an attempt running longer is a soft failure
	rttNs   atomic.Int64 // smoothed round trip of warm pings
	warming atomic.Bool
	// inline says reads whose first attempt is here run it on the
	// caller's goroutine: the pool's connections can be interrupted and
	// the server is rarely hedged (see conn.go).
	inline  atomic.Bool
	stmtGen atomic.Int64 // what warmStmts last prepared: statements and connections
}

// New validates cfg and builds a Store. It does no I/O: pools dial lazily,
// and a background loop (started here, stopped by Close) warms them, probes
// ejected servers and refreshes the adaptive delays. Call [Store.Ping] to
// check connectivity up front.
func New(cfg Config, opts ...Option) (*Store, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	specs := make([]region.Spec, 0, len(cfg.Regions))
	for _, r := range cfg.Regions {
		sp := region.Spec{ID: r.ID}
		for _, s := range r.Servers {
			sp.Servers = append(sp.Servers, s.Name)
		}
		specs = append(specs, sp)
	}
	topo, err := region.NewTopology(cfg.Local, specs, cfg.Health)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	s := &Store{
		cfg:    cfg,
		topo:   topo,
		engine: hedge.New(hedge.Config{AttemptTimeout: cfg.AttemptTimeout, CancelLosers: cfg.Hedge.CancelLosers, SelfBounded: true, Budget: cfg.Hedge.Budget}),
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
	byName := map[string]ServerConfig{}
	for _, r := range cfg.Regions {
		for _, sc := range r.Servers {
			byName[sc.Name] = sc
		}
	}
	for _, rs := range topo.Servers() {
		sc := byName[rs.Name]
		mc := cfg.mysqlConfig(sc)
		socks := interruptible(mc)
		if socks {
			mc.DialFunc = dialFunc(mc.DialFunc)
		}
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			s.closePools()
			return nil, fmt.Errorf("%w: server %q: %w", ErrInvalidConfig, rs.Name, err)
		}
		pc := mc.Clone()
		pc.Timeout, pc.ReadTimeout, pc.WriteTimeout = cfg.ProbeTimeout, cfg.ProbeTimeout, cfg.ProbeTimeout
		probeConn, err := mysql.NewConnector(pc)
		if err != nil {
			s.closePools()
			return nil, fmt.Errorf("%w: server %q: %w", ErrInvalidConfig, rs.Name, err)
		}
		srv := &server{rs: rs, probes: probeConn}
		if db, ok := o.dbs[rs.Name]; ok && db != nil {
			srv.db = db
		} else {
			srv.conn = &connector{Connector: conn, socks: socks}
			srv.db = sql.OpenDB(srv.conn)
			srv.owned = true
			// Pool sizes are set on purpose (DESIGN.md §4, lessons): a
			// hard cap so a hung server cannot take unbounded connections,
			// and idle connections kept so hedges land on warm ones.
			srv.db.SetMaxOpenConns(cfg.MaxOpenConns)
			srv.db.SetMaxIdleConns(cfg.MaxOpenConns)
			srv.db.SetConnMaxLifetime(cfg.ConnMaxLifetime)
			srv.db.SetConnMaxIdleTime(0)
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
	s.wg.Add(1)
	go s.maintain()
	return s, nil
}

// Topology is the Store's topology, with each server's live health.
func (s *Store) Topology() *region.Topology { return s.topo }

// Local is the local region.
func (s *Store) Local() region.ID { return s.topo.Local() }

// Ping checks that one server of every region answers, concurrently. It
// returns the errors of the regions that did not answer, joined.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	regions := s.topo.Regions()
	errs := make([]error, len(regions))
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last error
			for _, rs := range s.topo.RegionServers(r) {
				if last = s.servers[rs.Index].db.PingContext(ctx); last == nil {
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

// Close stops the background loop, waits for every attempt still running
// (each is bounded by AttemptTimeout) and closes the pools the Store
// opened. It is idempotent; later calls return nil.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.closed.Store(true)
		s.cancel()
		s.wg.Wait()
		s.engine.Close()
		s.tel.close()
		s.stmtMu.Lock()
		for _, st := range s.stmts {
			st.closeAll()
		}
		s.stmtMu.Unlock()
		err = s.closePools()
	})
	return err
}

func (s *Store) closePools() error {
	for _, srv := range s.servers {
		if srv.owned && srv.db != nil {
			// sql.DB.Close fails only when a connection fails to say
			// goodbye (COM_QUIT), which is what a connection to a dead or
			// blackholed server does: the driver's own "bad connection".
			// Nothing is left open either way, so it is logged, not
			// returned.
			if err := srv.db.Close(); err != nil {
				s.log.Debug("online: closing pool", "server", srv.rs.Name, "err", err)
			}
		}
	}
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
	// Open, Idle and InUse are the pool's connections now.
	Open, Idle, InUse int
	// Opened counts connections ever opened; Discarded those closed for
	// an error rather than by the pool's own limits. Both are 0 for a pool
	// given with WithDB.
	Opened, Discarded int64
}

// Stats describes the Store.
type Stats struct {
	Servers []ServerStats
	// HedgeTokens is the hedge budget left.
	HedgeTokens float64
}

// Stats returns a snapshot of every server's state.
func (s *Store) Stats() Stats {
	now := s.clock.Now()
	out := Stats{HedgeTokens: s.engine.Budget().Tokens()}
	qs := []float64{0.5, 0.99}
	q := make([]time.Duration, 2)
	for _, srv := range s.servers {
		q[0], q[1] = 0, 0
		srv.rs.Health.Latency().Quantiles(now, qs, q)
		st := srv.db.Stats()
		ss := ServerStats{
			Region: srv.rs.Region, Name: srv.rs.Name, State: srv.rs.Health.State(),
			Ejections: srv.rs.Health.Ejections(), P50: q[0], P99: q[1],
			HedgeDelay: time.Duration(srv.hedgeNs.Load()),
			Open:       st.OpenConnections, Idle: st.Idle, InUse: st.InUse,
		}
		if srv.conn != nil {
			ss.Opened = srv.conn.opened.Load()
			ss.Discarded = ss.Opened - int64(st.OpenConnections) - st.MaxIdleClosed - st.MaxIdleTimeClosed - st.MaxLifetimeClosed
		}
		out.Servers = append(out.Servers, ss)
	}
	return out
}
