package online

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tandemfs/tandem/internal/hedge"
	"github.com/tandemfs/tandem/region"
)

// Config says what the Store reads from and how it hedges. A zero field
// means its default; [New] copies the Config, so the caller may reuse it.
type Config struct {
	// Local is the region this process runs in; reads go there first while
	// it is healthy. Required.
	Local region.ID
	// Regions lists every region and its MySQL servers (for RonDB, its
	// MySQL API nodes). Required: at least one region with one server.
	Regions []RegionConfig

	// User, Password and Database apply to every server given by Addr.
	// Default: user "root", no password, no database.
	User     string
	Password string
	Database string

	// MaxOpenConns caps the open connections per server, so a server that
	// hangs cannot pile up connections and goroutines; an attempt that
	// finds every one busy waits for one until its deadline. Size it for
	// the reads in flight plus the losers of hedges, which keep their
	// connections until the slow server answers: at 3,000 vectors/s of
	// two reads with 4% of them stalled by 100 ms, the losers alone hold
	// 12 or more. Connections beyond MinIdleConns that sit idle for
	// ConnMaxIdleTime are closed, so the cap costs nothing while the load
	// is low. Default: 64 (docs/ARCHITECTURE.md §4, rule 10, has the
	// measurement).
	MaxOpenConns int
	// MinIdleConns is how many connections per server are kept open and
	// idle, so that a hedge or a failover never pays for a dial (a dial to
	// a region 20 ms away costs several round trips). Default: 4.
	MinIdleConns int
	// ConnMaxIdleTime closes a connection beyond MinIdleConns that has
	// been idle this long, so the pool shrinks back after a burst.
	// Default: 1m.
	ConnMaxIdleTime time.Duration
	// ConnMaxLifetime recycles connections, so none outlives a server-side
	// wait_timeout (Hopsworks' clients hit exactly that, hopsworks-api#565).
	// Default: 30m.
	ConnMaxLifetime time.Duration
	// DialTimeout bounds a TCP dial and the MySQL handshake. Default: 1s.
	DialTimeout time.Duration

	// AttemptTimeout bounds each attempt as a whole, the losers' included:
	// its wait for a pooled connection, a dial, and every read and write
	// (the driver's per-I/O socket deadlines are clamped to the attempt's
	// deadline, so a server that trickles bytes cannot stretch it), all
	// without a goroutine to watch a context. Default: 2s.
	AttemptTimeout time.Duration
	// ProbeTimeout bounds a probe of an ejected server; a probe dials a
	// fresh connection, so a pool full of hung ones cannot delay recovery.
	// Default: 200ms.
	ProbeTimeout time.Duration
	// MaxBatchKeys is the largest number of keys one batch statement
	// carries; larger batches are split into chunks that run concurrently.
	// A chunk is padded (with its last key repeated) to the next of a few
	// sizes, the powers of two below MaxBatchKeys and MaxBatchKeys itself,
	// so a batch statement has at most 1+log2(MaxBatchKeys) prepared forms
	// rather than one per key count. Default: 200.
	MaxBatchKeys int
	// MaxStmtsPerConn bounds the prepared statements kept on each pooled
	// connection; the least recently used one is closed on the server when
	// another needs room. A Store thus holds at most MaxOpenConns ×
	// MaxStmtsPerConn statements per server, which must stay well below
	// the server's max_prepared_stmt_count (16,382 by default in MySQL and
	// MariaDB) summed over every process. Default: 32.
	MaxStmtsPerConn int

	// AllowAnySelect accepts any single SELECT in Prepare, not only the
	// statement shapes Hopsworks generates for online serving (see
	// sqlcheck.go). Risk: the check is then a deny-list of clauses and
	// well-known functions, which is never complete. A SELECT can call
	// functions with side effects that no client can see: locks, sleeps,
	// file reads, and stored functions, which run with their definer's
	// rights and can even end the session's read-only mode (MariaDB
	// 10.11). The server's read-only session still refuses row and
	// sequence writes, but not files, locks or sleeps: with this set, use
	// an account with SELECT on the project's database only (no EXECUTE,
	// no FILE). Default: false.
	AllowAnySelect bool

	// Hedge tunes the hedge delay and budget.
	Hedge HedgeConfig
	// Health tunes ejection and probation.
	Health region.HealthConfig
}

// RegionConfig is one region and its servers.
type RegionConfig struct {
	ID      region.ID
	Servers []ServerConfig
	// TLS secures the connections to the region's servers that are given
	// by Addr (a ServerConfig.MySQL keeps its own TLS settings unless it
	// has none). Default: nil, no TLS.
	TLS *TLSConfig
}

// ServerConfig is one MySQL server. Give Addr (host:port, using the
// Config's credentials) or a full MySQL config. Name defaults to
// "<region>-<n>".
type ServerConfig struct {
	Name  string
	Addr  string
	MySQL *mysql.Config
}

// HedgeConfig tunes when a hedge is sent.
type HedgeConfig struct {
	// NoHedge sends no hedges for any read, as the per-call [NoHedge]
	// does for one: only failovers after errors. Default: false.
	NoHedge bool
	// Delay, if set, is a fixed hedge delay. Default: 0, which means
	// adaptive: the smallest delay at which recent latency says a hedge is
	// likely to win (see delay.go), clamped to [Floor, Ceiling].
	Delay time.Duration
	// Floor is the smallest adaptive delay. Default: 1ms.
	Floor time.Duration
	// Ceiling is the largest adaptive delay, so a sick server cannot push
	// the delay up without bound (CASSANDRA-14293). Default: 10ms.
	Ceiling time.Duration
	// MaxRate is the share of requests a healthy server may see hedged:
	// the adaptive delay is at least the (1-MaxRate) quantile of recent
	// latency unless the tail beyond it is made of stalls a hedge would
	// beat. Default: 0.001 (0.1%).
	MaxRate float64
	// Budget caps hedges: a ratio of requests plus a reserve, and a
	// concurrency cap. Defaults: 10% + 10/s, 16 in flight.
	Budget BudgetConfig
	// CancelLosers cancels the losing attempt. Default: false: the loser
	// finishes under its own deadline so its connection survives
	// (go-sql-driver closes the connection to cancel).
	CancelLosers bool
	// WorkersOnly keeps every first attempt on a worker goroutine. By
	// default, a server whose recent attempts rarely outlast the hedge
	// delay (≤ 1% of at least 200) gets the first attempt on the caller's
	// goroutine, which saves two goroutine hand-offs per read; a hedge
	// that wins then interrupts that attempt, which costs its connection
	// (see conn.go). Losers on workers always keep theirs. Default: false.
	WorkersOnly bool
	// SoftMultiplier × the server's p99 is how long an attempt may run
	// before it counts as a failure for health, clamped to
	// [SoftMin, SoftMax]. Default: 10, 50ms, 500ms.
	SoftMultiplier float64
	SoftMin        time.Duration
	SoftMax        time.Duration
}

// BudgetConfig caps hedges. The zero value means the defaults.
type BudgetConfig struct {
	// Ratio is the share of requests that may be hedged over time: each
	// request deposits Ratio tokens, each hedge withdraws one.
	// Default: 0.1 (10%).
	Ratio float64
	// ReservePerSecond tokens are added each second on top, so a quiet
	// client can still hedge. Default: 10.
	ReservePerSecond float64
	// MaxTokens caps the bucket, so a long quiet period cannot buy a
	// burst of hedges during a brownout. Default: 50.
	MaxTokens float64
	// MaxConcurrent caps hedges in flight. Default: 16.
	MaxConcurrent int
}

func (b BudgetConfig) internal() hedge.BudgetConfig {
	return hedge.BudgetConfig{Ratio: b.Ratio, ReservePerSecond: b.ReservePerSecond, MaxTokens: b.MaxTokens, MaxConcurrent: b.MaxConcurrent}
}

func (c Config) normalize() (Config, error) {
	if c.User == "" {
		c.User = "root"
	}
	if c.MaxOpenConns <= 0 {
		c.MaxOpenConns = 64
	}
	if c.MinIdleConns <= 0 {
		c.MinIdleConns = 4
	}
	if c.MinIdleConns > c.MaxOpenConns {
		c.MinIdleConns = c.MaxOpenConns
	}
	if c.ConnMaxIdleTime <= 0 {
		c.ConnMaxIdleTime = time.Minute
	}
	if c.ConnMaxLifetime <= 0 {
		c.ConnMaxLifetime = 30 * time.Minute
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = time.Second
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = 2 * time.Second
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = 200 * time.Millisecond
	}
	if c.MaxBatchKeys <= 0 {
		c.MaxBatchKeys = 200
	}
	if c.MaxStmtsPerConn <= 0 {
		c.MaxStmtsPerConn = 32
	}
	h := &c.Hedge
	if h.Floor <= 0 {
		h.Floor = time.Millisecond
	}
	if h.Ceiling <= 0 {
		h.Ceiling = 10 * time.Millisecond
	}
	if h.Ceiling < h.Floor {
		return c, fmt.Errorf("%w: Hedge.Ceiling %v is below Hedge.Floor %v", ErrInvalidConfig, h.Ceiling, h.Floor)
	}
	if h.MaxRate <= 0 || h.MaxRate >= 1 {
		h.MaxRate = 0.001
	}
	if h.SoftMultiplier <= 0 {
		h.SoftMultiplier = 10
	}
	if h.SoftMin <= 0 {
		h.SoftMin = 50 * time.Millisecond
	}
	if h.SoftMax <= 0 {
		h.SoftMax = 500 * time.Millisecond
	}
	if h.SoftMax < h.SoftMin {
		h.SoftMax = h.SoftMin
	}
	regs := make([]RegionConfig, len(c.Regions))
	for i, r := range c.Regions {
		id, err := region.ParseID(string(r.ID))
		if err != nil {
			return c, fmt.Errorf("%w: region %d: %w", ErrInvalidConfig, i, err)
		}
		regs[i] = RegionConfig{ID: id, Servers: append([]ServerConfig(nil), r.Servers...)}
		if r.TLS != nil {
			t := *r.TLS
			t.CAPEM = append([]byte(nil), r.TLS.CAPEM...)
			regs[i].TLS = &t
		}
		for j := range regs[i].Servers {
			s := &regs[i].Servers[j]
			if s.Name == "" {
				s.Name = fmt.Sprintf("%s-%d", id, j+1)
			}
			if s.Addr == "" && s.MySQL == nil {
				return c, fmt.Errorf("%w: server %q of region %q has neither Addr nor MySQL config", ErrInvalidConfig, s.Name, id)
			}
		}
	}
	c.Regions = regs
	return c, nil
}

// mysqlConfig builds the driver config of one server from a config, not a
// DSN string, with the settings a hedging client needs.
func (c *Config) mysqlConfig(s ServerConfig, t *TLSConfig) (*mysql.Config, error) {
	var m *mysql.Config
	if s.MySQL != nil {
		m = s.MySQL.Clone()
	} else {
		m = mysql.NewConfig()
		m.User = c.User
		m.Passwd = c.Password
		m.DBName = c.Database
	}
	if s.Addr != "" {
		m.Net = "tcp"
		m.Addr = s.Addr
	}
	switch m.Net {
	case "", "tcp", "tcp4", "tcp6", "unix":
	default:
		if m.DialFunc == nil {
			// The Store dials every connection through a socket it can
			// interrupt; a registered network is dialled by the driver's
			// registry, which it cannot wrap.
			return nil, fmt.Errorf("network %q is registered with the driver; give its dial function as MySQL.DialFunc instead", m.Net)
		}
	}
	if t != nil && (s.MySQL == nil || (s.MySQL.TLS == nil && s.MySQL.TLSConfig == "")) {
		host, _, err := net.SplitHostPort(m.Addr)
		if err != nil {
			host = m.Addr
		}
		tc, fallback, err := t.build(host)
		if err != nil {
			return nil, err
		}
		m.TLS, m.TLSConfig, m.AllowFallbackToPlaintext = tc, "", fallback
	}
	// time.Time for DATE/DATETIME/TIMESTAMP, as the Store promises.
	m.ParseTime = true
	if m.Timeout == 0 {
		m.Timeout = c.DialTimeout
	}
	// Reads and writes are bounded by socket deadlines, not by a context:
	// a cancellable context costs go-sql-driver a wake-up of its watcher
	// per query (see hedge.Config.SelfBounded). The driver sets them per
	// read; the Store clamps them to the attempt's own deadline (pool.go),
	// so a hung or trickling server ends an attempt after AttemptTimeout.
	if m.ReadTimeout == 0 || m.ReadTimeout > c.AttemptTimeout {
		m.ReadTimeout = c.AttemptTimeout
	}
	if m.WriteTimeout == 0 || m.WriteTimeout > c.AttemptTimeout {
		m.WriteTimeout = c.AttemptTimeout
	}
	return m, nil
}

// Option injects dependencies: telemetry providers, a logger, a clock.
type Option func(*options)

type options struct {
	tp     trace.TracerProvider
	mp     metric.MeterProvider
	logger *slog.Logger
	clock  region.Clock
}

// WithTracerProvider sets the tracer provider for spans. Default: a no-op
// provider (no spans); the global provider is never used.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *options) { o.tp = tp } }

// WithMeterProvider sets the meter provider for metrics. Default: a no-op
// provider (no metrics); the global provider is never used.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(o *options) { o.mp = mp } }

// WithLogger sets the logger for rare events (ejections, recoveries).
// Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock used for health decisions. Default: the system
// clock.
func WithClock(c region.Clock) Option { return func(o *options) { o.clock = c } }
