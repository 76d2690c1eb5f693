package metadata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/internal/httpx"
	"github.com/tandemfs/tandem/region"
)

// Client reads and writes Hopsworks metadata in a multi-region deployment.
// Reads go to the local region and fall back to the others when it is down;
// writes go to the active region. See the package documentation.
//
// A Client is safe for concurrent use. It has no useful zero value: build it
// with New. Close releases it; it does not close what was passed in options.
type Client struct {
	cfg     Config
	eps     map[region.ID]endpoint
	order   []region.ID // the local region first, then the others by name
	reads   *retryablehttp.Client
	writes  *retryablehttp.Client
	ownHTTP *http.Client // closed on Close; nil when injected
	active  ActiveSource
	tel     *telemetry
	log     *slog.Logger
	now     func() time.Time
	// afterLocalRead, when set by a test, runs after the local read of a
	// read-your-writes check, to force an interleaving.
	afterLocalRead func()
	base           context.Context // cancelled by Close
	cancel         context.CancelFunc
	doneOnce       sync.Once

	mu      sync.Mutex
	project *Project
	fs      *FeatureStore
	pending map[viewKey]pendingWrite
}

// New validates cfg and builds a Client. It does no I/O.
func New(cfg Config, opts ...Option) (*Client, error) {
	ncfg, eps, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	tel, err := newTelemetry(o.tp, o.mp)
	if err != nil {
		return nil, fmt.Errorf("metadata: creating instruments: %w", err)
	}
	c := &Client{
		cfg:    ncfg,
		eps:    eps,
		active: o.active,
		tel:    tel,
		log:    o.logger,
		now:    o.now,

		afterLocalRead: o.afterLocalRead,
		pending:        make(map[viewKey]pendingWrite),
	}
	c.base, c.cancel = context.WithCancel(context.Background())
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.order = append(c.order, ncfg.Local)
	for _, r := range ncfg.Regions {
		if r.ID != ncfg.Local {
			c.order = append(c.order, r.ID)
		}
	}

	hc := o.httpClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// Hopsworks' own Java client pools 10 per route; metadata traffic is
		// light, so a few idle connections per region are enough.
		tr.MaxIdleConnsPerHost = 4
		hc = &http.Client{Transport: tr}
		c.ownHTTP = hc
	}
	// No redirect is ever followed: a 3xx could carry the API key or a
	// write to a host (or scheme) nobody configured. The copy leaves the
	// caller's client as it was.
	hc = httpx.NoRedirects(hc)
	// Reads (GET, idempotent) get one quick retry in the same region before
	// we fall back to the next region. Writes are never retried blindly: a
	// POST whose answer was lost may have been applied.
	c.reads = &retryablehttp.Client{
		HTTPClient:   hc,
		Logger:       nil, // silent: its logs would duplicate ours
		RetryWaitMin: 20 * time.Millisecond,
		RetryWaitMax: 200 * time.Millisecond,
		RetryMax:     1,
		CheckRetry:   checkRetry,
		Backoff:      retryablehttp.DefaultBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	c.writes = &retryablehttp.Client{
		HTTPClient:   hc,
		Logger:       nil,
		RetryMax:     0,
		CheckRetry:   checkRetry,
		Backoff:      retryablehttp.DefaultBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return c, nil
}

// checkRetry is retryablehttp's default policy, except that a refused
// redirect is final: asking again would be refused again.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if httpx.IsRedirect(err) {
		return false, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// Config returns the normalized Config (defaults filled in).
func (c *Client) Config() Config {
	out := c.cfg
	out.Regions = slices.Clone(c.cfg.Regions)
	return out
}

// Close cancels calls in flight and makes later calls fail with ErrClosed.
// It is idempotent and returns nil.
func (c *Client) Close() error {
	c.doneOnce.Do(func() {
		c.cancel()
		if c.ownHTTP != nil {
			c.ownHTTP.CloseIdleConnections()
		}
	})
	return nil
}

func (c *Client) closed() bool {
	return c.base.Err() != nil
}

// begin checks the Client is open and ties ctx to its lifetime, so Close
// cancels calls in flight.
func (c *Client) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if c.closed() {
		return nil, nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.base, cancel)
	return ctx, func() { stop(); cancel() }, nil
}

// request is one REST call, independent of the region.
type request struct {
	op     string
	method string
	path   string // below the base URL, segments already escaped
	query  url.Values
	body   []byte
}

// do sends req to region r and returns the body of a 2xx answer.
func (c *Client) do(ctx context.Context, r region.ID, req request) ([]byte, error) {
	ep, ok := c.eps[r]
	if !ok {
		return nil, &RegionError{Region: r, Op: req.op, Err: fmt.Errorf("%w: region %s has no endpoint in Config.Regions", ErrInvalidArgument, r)}
	}
	write := req.method != http.MethodGet
	start := time.Now()
	ctx, span := c.tel.startAttempt(ctx, req.op, req.method, r, ep)
	status, body, err := c.send(ctx, r, ep, req, write)
	c.tel.endAttempt(ctx, span, req.op, r, status, start, err)
	return body, err
}

func (c *Client) send(ctx context.Context, r region.ID, ep endpoint, req request, write bool) (int, []byte, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	// req.path is already escaped; the base has no query (normalize).
	target := ep.base.String() + req.path
	if len(req.query) > 0 {
		target += "?" + req.query.Encode()
	}
	var rawBody any
	if req.body != nil {
		rawBody = req.body
	}
	hreq, err := retryablehttp.NewRequestWithContext(actx, req.method, target, rawBody)
	if err != nil {
		return 0, nil, &RegionError{Region: r, Op: req.op, Err: fmt.Errorf("%w: building request: %v", ErrInvalidArgument, err)}
	}
	hreq.Header.Set("Authorization", "ApiKey "+c.cfg.APIKey)
	hreq.Header.Set("Accept", "application/json")
	if req.body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	hc := c.reads
	if write {
		hc = c.writes
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			// The caller gave up (or the Client closed): not the region's fault.
			if c.closed() {
				return 0, nil, ErrClosed
			}
			return 0, nil, ctx.Err()
		}
		var re *RedirectError
		if errors.As(err, &re) {
			// Not the region being down: its answer pointed elsewhere.
			return 0, nil, &RegionError{Region: r, Op: req.op, Err: re}
		}
		if actx.Err() != nil {
			err = fmt.Errorf("no answer within Config.Timeout (%s)", c.cfg.Timeout)
		}
		return 0, nil, &RegionError{Region: r, Op: req.op, Err: fmt.Errorf("%w: %w", ErrUnavailable, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBodyBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			if c.closed() {
				return resp.StatusCode, nil, ErrClosed
			}
			return resp.StatusCode, nil, ctx.Err()
		}
		return resp.StatusCode, nil, &RegionError{Region: r, Op: req.op, Err: fmt.Errorf("%w: reading body: %w", ErrUnavailable, err)}
	}
	if int64(len(body)) > c.cfg.MaxBodyBytes {
		return resp.StatusCode, nil, &RegionError{Region: r, Op: req.op, Err: fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, c.cfg.MaxBodyBytes)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := decodeError(resp.StatusCode, body)
		ae.Region, ae.Op, ae.write = r, req.op, write
		return resp.StatusCode, nil, ae
	}
	return resp.StatusCode, body, nil
}

// decodeError builds an APIError from an error answer. A body that is not
// Hopsworks' error JSON (e.g. a load balancer's HTML page) keeps only a
// short, printable snippet.
func decodeError(status int, body []byte) *APIError {
	ae := &APIError{Status: status}
	var eb errorBody
	if json.Valid(body) && json.Unmarshal(body, &eb) == nil && (eb.ErrorCode != nil || eb.ErrorMsg != "" || eb.UsrMsg != "") {
		if eb.ErrorCode != nil {
			ae.Code = *eb.ErrorCode
		}
		ae.Msg = clip(eb.ErrorMsg, 512)
		ae.UsrMsg = clip(eb.UsrMsg, 512)
		return ae
	}
	ae.Msg = clip(strings.TrimSpace(string(bytes.ToValidUTF8(body, nil))), 160)
	if ae.Msg == "" {
		ae.Msg = http.StatusText(status)
	}
	return ae
}

func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

// read sends req to the regions in order, moving on only when a region is
// down or failing (shouldFallback). It returns the body and the region that
// served it.
// readAs is read followed by decode: a body that does not decode is the
// serving region's error.
func readAs[T any](ctx context.Context, c *Client, order []region.ID, req request, decode func([]byte) (T, error)) (T, region.ID, error) {
	var zero T
	body, r, err := c.read(ctx, order, req)
	if err != nil {
		return zero, r, err
	}
	v, err := decode(body)
	if err != nil {
		return zero, r, &RegionError{Region: r, Op: req.op, Err: err}
	}
	return v, r, nil
}

// doAs is do in region r followed by decode, likewise.
func doAs[T any](ctx context.Context, c *Client, r region.ID, req request, decode func([]byte) (T, error)) (T, error) {
	var zero T
	body, err := c.do(ctx, r, req)
	if err != nil {
		return zero, err
	}
	v, err := decode(body)
	if err != nil {
		return zero, &RegionError{Region: r, Op: req.op, Err: err}
	}
	return v, nil
}

func (c *Client) read(ctx context.Context, order []region.ID, req request) ([]byte, region.ID, error) {
	var errs []error
	for i, r := range order {
		if i > 0 {
			c.tel.fallbacks.Add(ctx, 1)
			c.log.LogAttrs(ctx, slog.LevelDebug, "metadata: falling back to another region",
				slog.String("op", req.op), slog.String("from", string(order[i-1])), slog.String("to", string(r)),
				slog.String("error", errs[len(errs)-1].Error()))
		}
		body, err := c.do(ctx, r, req)
		if err == nil {
			return body, r, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil || !shouldFallback(err) {
			break
		}
	}
	if len(errs) == 1 {
		return nil, "", errs[0]
	}
	return nil, "", errors.Join(errs...)
}

// activeRegion returns the region the ActiveSource says is active. It asks
// the source to refresh once when it knows no state yet or when the state
// is older than Config.MaxStateAge. It never guesses: with no state it
// fails with aca.ErrNoActiveRegion, with a state still too old with
// aca.ErrStale.
func (c *Client) activeRegion(ctx context.Context, op string) (region.ID, error) {
	if c.active == nil {
		return "", fmt.Errorf("metadata: %s needs WithActiveSource: %w", op, aca.ErrNoActiveRegion)
	}
	st, ok := c.active.Current()
	if ok && st.Active != "" && c.active.Staleness() <= c.cfg.MaxStateAge {
		return c.knownRegion(st.Active, op)
	}
	st, err := c.active.Refresh(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		// Judge by what the source still knows.
		st, ok = c.active.Current()
		if !ok {
			st = aca.State{}
		}
	}
	switch age := c.active.Staleness(); {
	case st.Active == "" && err != nil:
		return "", fmt.Errorf("metadata: %s: %w: %w", op, aca.ErrNoActiveRegion, err)
	case st.Active == "":
		return "", fmt.Errorf("metadata: %s: the ACA names no active region: %w", op, aca.ErrNoActiveRegion)
	case age > c.cfg.MaxStateAge:
		return "", fmt.Errorf("metadata: %s: the ACA state was last confirmed %s ago, more than Config.MaxStateAge (%s): %w",
			op, age.Round(time.Millisecond), c.cfg.MaxStateAge, aca.ErrStale)
	}
	return c.knownRegion(st.Active, op)
}

func (c *Client) knownRegion(r region.ID, op string) (region.ID, error) {
	for id := range c.eps {
		if id.Equal(r) {
			return id, nil
		}
	}
	return "", fmt.Errorf("metadata: %s: the active region %q is not in Config.Regions: %w", op, r, aca.ErrNoActiveRegion)
}

// write sends req to the active region. When that region refuses it as
// read-only (it became passive), it refreshes the ACA state once and retries
// once on the new active region. It never sends a write to a region the
// ActiveSource does not name as active.
func (c *Client) write(ctx context.Context, req request) ([]byte, region.ID, error) {
	r, err := c.activeRegion(ctx, req.op)
	if err != nil {
		return nil, "", err
	}
	body, err := c.do(ctx, r, req)
	if err == nil || !errors.Is(err, ErrReadOnly) || ctx.Err() != nil {
		return body, r, err
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "metadata: active region refused a write as read-only; asking the ACA again",
		slog.String("op", req.op), slog.String("region", string(r)))
	st, rerr := c.active.Refresh(ctx)
	if rerr != nil {
		return nil, "", errors.Join(err, fmt.Errorf("metadata: refreshing the ACA state: %w: %w", aca.ErrNoActiveRegion, rerr))
	}
	next, kerr := c.knownRegion(st.Active, req.op)
	if kerr != nil {
		return nil, "", errors.Join(err, kerr)
	}
	if next == r {
		return nil, "", err
	}
	c.tel.redirects.Add(ctx, 1)
	body, err = c.do(ctx, next, req)
	return body, next, err
}
