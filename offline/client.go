package offline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/tandemfs/tandem/region"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
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
	creds    map[region.ID]credentials.TransportCredentials
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
	addr string
	cc   *grpc.ClientConn
	fc   flight.Client
}

// New validates cfg and the options and returns a Client. It does no I/O
// beyond reading Endpoint.CAFile: connections are made on first use.
// WithActiveSource is required.
func New(cfg Config, opts ...Option) (*Client, error) {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.active == nil {
		return nil, fmt.Errorf("%w: WithActiveSource is required: the client must know which region is active", ErrInvalidConfig)
	}
	ncfg, creds, err := cfg.normalize()
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
		creds:    creds,
		active:   o.active,
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
	ep, ok := c.cfg.Endpoints[r]
	if !ok {
		return nil, fmt.Errorf("%w %q: add it to Config.Endpoints", ErrNoEndpoint, r)
	}
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(c.creds[r]),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(c.cfg.MaxRecvMsgSize)),
	}, c.dialOpts...)
	cc, err := grpc.NewClient(ep.Addr, opts...)
	if err != nil {
		return nil, &RegionError{Region: r, Op: "connect", Err: err, kinds: []error{ErrInvalidConfig}}
	}
	rc := &regionConn{addr: ep.Addr, cc: cc, fc: flight.NewClientFromConn(cc, nil)}
	c.conns[r] = rc
	return rc, nil
}

// activeRegion returns the region the ACA says is active, waiting for one
// if wait is set.
func (c *Client) activeRegion(ctx context.Context, wait bool) (region.ID, error) {
	if st, ok := c.active.Current(); ok && st.Active != "" {
		return normID(st.Active), nil
	}
	if !wait {
		return "", fmt.Errorf("offline: %w: refusing to guess; pass WaitForActive(true) to wait for the ACA", ErrNoActiveRegion)
	}
	// Close must end the wait too.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	st, err := c.active.WaitReady(ctx)
	if err != nil {
		if c.isClosed() {
			return "", ErrClosed
		}
		if errors.Is(err, ErrNoActiveRegion) {
			return "", fmt.Errorf("offline: %w", err)
		}
		return "", fmt.Errorf("offline: %w: %w", ErrNoActiveRegion, err)
	}
	if st.Active == "" {
		return "", fmt.Errorf("offline: %w", ErrNoActiveRegion)
	}
	return normID(st.Active), nil
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
		return &RegionError{Region: r, Op: op, Err: err, kinds: []error{ErrClosed}}
	}
	if st, ok := c.active.Current(); !ok || !normID(st.Active).Equal(r) {
		return &FlipError{From: r, To: normID(st.Active), Op: op, Err: err}
	}
	return &RegionError{Region: r, Op: op, Err: err, kinds: []error{kindOf(err)}}
}

// Healthcheck runs the query service's healthcheck action in the active
// region, bounded by Config.HealthcheckTimeout. It does not retry: it
// reports. Errors from the query service wrap [ErrUnhealthy] as well as
// the sentinel of their status; with no active region known it fails with
// [ErrNoActiveRegion] and calls nothing.
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
	stream, err := rc.fc.DoAction(hctx, &flight.Action{Type: "healthcheck"})
	if err == nil {
		err = flight.ReadUntilEOF(stream)
	}
	if err != nil {
		err = c.regionErr(ctx, r, "healthcheck", err)
		if re, ok := errors.AsType[*RegionError](err); ok && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
			re.kinds = append(re.kinds, ErrUnhealthy)
		}
		return err
	}
	return nil
}
