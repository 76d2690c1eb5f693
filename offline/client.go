package offline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/region"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
)

// SignatureHeader is the gRPC metadata key that carries a batch query's
// hqsPayloadSignature to the query service.
const SignatureHeader = "hopsworks-signature"

// Client reads the offline store through the active region's query service.
// Create it with [New]; the zero Client is not usable. It is safe for
// concurrent use. It opens one gRPC connection per region, lazily, on the
// first call that needs it, and keeps it; [Client.Close] closes them.
type Client struct {
	cfg      Config
	regions  []regionSetup
	active   ActiveSource
	queries  QuerySource
	tel      *telemetry
	log      *slog.Logger
	mem      memory.Allocator
	dialOpts []grpc.DialOption

	// ctx is cancelled by Close; Reader watchers run on it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[region.ID]*regionConn
}

type regionConn struct {
	region region.ID
	addr   string
	cc     *grpc.ClientConn
	fc     flight.Client
	certs  []byte // the certificates JSON; nil without stores

	certMu sync.Mutex // serialises prepareCerts
	mode   certMode   // under certMu
}

// New validates cfg and the options and returns a Client that routes every
// call by active, normally the *aca.Client. It does no I/O beyond reading
// the files that cfg's Certificates name: connections are made on first
// use.
func New(cfg Config, active ActiveSource, opts ...Option) (*Client, error) {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if active == nil {
		return nil, fmt.Errorf("%w: the ActiveSource is nil: the client must know which region is active", ErrInvalidConfig)
	}
	ncfg, setups, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if o.tp == nil {
		o.tp = tracenoop.NewTracerProvider()
	}
	if o.mp == nil {
		o.mp = metricnoop.NewMeterProvider()
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.mem == nil {
		o.mem = memory.DefaultAllocator
	}
	tel, err := newTelemetry(o.tp, o.mp)
	if err != nil {
		return nil, fmt.Errorf("%w: telemetry: %w", ErrInvalidConfig, err)
	}
	c := &Client{
		cfg:      ncfg,
		regions:  setups,
		active:   active,
		queries:  o.queries,
		tel:      tel,
		log:      o.logger,
		mem:      o.mem,
		dialOpts: o.dialOpts,
		conns:    make(map[region.ID]*regionConn),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Close closes the connections the client opened and cuts short the
// streams of open Readers, which then fail with [ErrClosed]. Readers must
// still be released. Close is idempotent; calls after it return ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	conns := c.conns
	c.conns = nil
	c.mu.Unlock()

	c.cancel()
	var errs []error
	for r, rc := range conns {
		if err := rc.cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("offline: close connection to region %q: %w", r, err))
		}
	}
	c.wg.Wait()
	return errors.Join(errs...)
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// goWatch runs f on the client's WaitGroup unless the client is closed.
func (c *Client) goWatch(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// conn returns region r's connection, creating it on first use. grpc's
// NewClient does no I/O: the connection is made by the first RPC.
func (c *Client) conn(r region.ID) (*regionConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if rc := c.conns[r]; rc != nil {
		return rc, nil
	}
	i := slices.IndexFunc(c.regions, func(s regionSetup) bool { return s.ID == r })
	if i < 0 {
		return nil, fmt.Errorf("%w %q: add it to Config.Regions", ErrNoEndpoint, r)
	}
	su := c.regions[i]
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(su.creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(c.cfg.MaxRecvMsgSize)),
	}, c.dialOpts...)
	cc, err := grpc.NewClient(su.Addr, opts...)
	if err != nil {
		return nil, &RegionError{Region: r, Op: "connect", Err: withKind(ErrInvalidConfig, err)}
	}
	rc := &regionConn{region: r, addr: su.Addr, cc: cc, fc: flight.NewClientFromConn(cc, nil), certs: su.certs}
	c.conns[r] = rc
	return rc, nil
}

// activeRegion returns the region the ACA says is active, waiting for one
// if wait is set. It refuses a state older than Config.MaxStateAge.
func (c *Client) activeRegion(ctx context.Context, wait bool) (region.ID, error) {
	st, ok := c.active.Current()
	if !ok || st.Active == "" {
		if !wait {
			return "", fmt.Errorf("offline: %w: refusing to guess; pass WaitForActive(true) to wait for the ACA", aca.ErrNoActiveRegion)
		}
		var err error
		if st, err = c.waitActive(ctx); err != nil {
			return "", err
		}
	}
	if age := c.active.Staleness(); age > c.cfg.MaxStateAge {
		if fresh, ok := c.refresh(ctx); ok {
			return normID(fresh.Active), nil
		}
		return "", fmt.Errorf("offline: %w: the ACA last confirmed region %q as active %v ago, more than Config.MaxStateAge (%v); refusing to trust it until the ACA answers again",
			aca.ErrStale, normID(st.Active), age.Round(time.Millisecond), c.cfg.MaxStateAge)
	}
	return normID(st.Active), nil
}

// refresh asks a source that can Refresh (as *aca.Client can) for one
// more polling round, bounded by Config.HealthcheckTimeout, and returns
// the state if it is now fresh enough.
func (c *Client) refresh(ctx context.Context) (aca.State, bool) {
	rf, ok := c.active.(refresher)
	if !ok {
		return aca.State{}, false
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.HealthcheckTimeout)
	defer cancel()
	st, err := rf.Refresh(rctx)
	if err != nil || st.Active == "" || c.active.Staleness() > c.cfg.MaxStateAge {
		return aca.State{}, false
	}
	return st, true
}

func (c *Client) waitActive(ctx context.Context) (aca.State, error) {
	// Close must end the wait too.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	st, err := c.active.WaitReady(ctx)
	if err != nil {
		if c.isClosed() {
			return aca.State{}, ErrClosed
		}
		if errors.Is(err, aca.ErrNoActiveRegion) {
			return aca.State{}, fmt.Errorf("offline: %w", err)
		}
		return aca.State{}, fmt.Errorf("offline: %w: %w", aca.ErrNoActiveRegion, err)
	}
	if st.Active == "" {
		return aca.State{}, fmt.Errorf("offline: %w", aca.ErrNoActiveRegion)
	}
	return st, nil
}

func normID(id region.ID) region.ID { return region.ID(strings.ToLower(strings.TrimSpace(string(id)))) }

// regionErr types an error from region r's query service. A cancelled
// caller wins; then Close; then a flip (any failure of a region that is no
// longer active is the flip's); else the gRPC status decides.
func (c *Client) regionErr(ctx context.Context, r region.ID, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return &RegionError{Region: r, Op: op, Err: fmt.Errorf("%w: %w", cerr, err)}
	}
	if c.isClosed() {
		return &RegionError{Region: r, Op: op, Err: withKind(ErrClosed, err)}
	}
	if st, ok := c.active.Current(); !ok || !normID(st.Active).Equal(r) {
		return &FlipError{From: r, To: normID(st.Active), Op: op, Err: err}
	}
	return &RegionError{Region: r, Op: op, Err: withKind(kindOf(err), err)}
}

// Healthcheck runs the query service's healthcheck action in the active
// region, bounded by Config.HealthcheckTimeout. It does not retry: it
// reports. Errors from the query service wrap [ErrUnhealthy] as well as
// the sentinel of their status; with no active region known it fails with
// an error wrapping aca.ErrNoActiveRegion, and with a state older than
// Config.MaxStateAge with one wrapping aca.ErrStale, and calls nothing.
func (c *Client) Healthcheck(ctx context.Context) (err error) {
	if c.isClosed() {
		return ErrClosed
	}
	ctx, o := c.tel.start(ctx, "healthcheck")
	defer func() { o.end(err, 0) }()
	r, err := c.activeRegion(ctx, false)
	if err != nil {
		return err
	}
	rc, err := c.conn(r)
	if err != nil {
		return err
	}
	o.setRegion(r, rc.addr)
	hctx, cancel := context.WithTimeout(ctx, c.cfg.HealthcheckTimeout)
	defer cancel()
	stream, err := rc.fc.DoAction(hctx, &flight.Action{Type: actionHealthcheck})
	if err == nil {
		err = flight.ReadUntilEOF(stream)
	}
	if err != nil {
		err = c.regionErr(ctx, r, "healthcheck", err)
		if re, ok := errors.AsType[*RegionError](err); ok && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
			re.Err = withKind(ErrUnhealthy, re.Err)
		}
		return err
	}
	return nil
}

// headerMode reports whether the connection's query service takes the
// certificates in the x-certificates-json header.
func (rc *regionConn) headerMode() bool {
	rc.certMu.Lock()
	defer rc.certMu.Unlock()
	return rc.mode == certsHeader
}
