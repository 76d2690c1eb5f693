package aca

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/tandemfs/tandem/region"
)

// Defaults and limits of [Config].
const (
	DefaultInterval = time.Second
	DefaultTimeout  = 500 * time.Millisecond
	DefaultJitter   = 0.1

	// MinInterval is the shortest poll interval accepted. The hops watchdog
	// has the same floor: below it the ACA serves polls, not decisions.
	MinInterval = 10 * time.Millisecond
)

// Config says what the [Client] polls and how often. The zero value of each
// field means its default; [New] copies the Config, so the caller may reuse
// it.
type Config struct {
	// Endpoints are the ACA URLs (http or https) polled every round, all at
	// once. With several, the majority of those that answer decides, so use
	// an odd number, spread over both regions. Required; no duplicates.
	Endpoints []string

	// Interval is the time between two polling rounds. A flip is seen at
	// most Interval plus one Timeout after the endpoints serve it. After a
	// round that confirms nothing the next comes sooner, backing off from
	// 5ms up to Interval. Must be at least MinInterval. Default: 1s.
	Interval time.Duration

	// Timeout bounds one poll of one endpoint, retries and body included.
	// Default: 500ms.
	Timeout time.Duration

	// Jitter is the fraction of Interval by which each wait is shortened at
	// random, in [0, 1), so that many clients do not poll in step. It only
	// ever shortens the wait, so a flip is still seen within Interval.
	// Default: 0.1.
	Jitter float64

	// Local is the region this process runs in. It is optional: it labels
	// the metrics and logs and backs [Client.LocalIsActive]. Default: none.
	Local region.ID
}

// endpoint is one parsed endpoint URL.
type endpoint struct {
	url string // as given; used for requests
	// label is the URL without user info, query or fragment: safe to log
	// and to use as a metric attribute.
	label string
}

// normalize validates cfg and returns a filled copy.
func (cfg Config) normalize() (Config, []endpoint, error) {
	out := cfg
	out.Endpoints = append([]string(nil), cfg.Endpoints...)
	if len(out.Endpoints) == 0 {
		return Config{}, nil, fmt.Errorf("%w: no Endpoints; give the ACA URLs, e.g. http://judge.example:8080/", ErrInvalidConfig)
	}
	eps := make([]endpoint, 0, len(out.Endpoints))
	seen := make(map[string]bool, len(out.Endpoints))
	for i, raw := range out.Endpoints {
		u, err := url.Parse(raw)
		if err != nil {
			// url.Error quotes the URL, which may hold a password: report
			// only the position.
			return Config{}, nil, fmt.Errorf("%w: Endpoints[%d] is not a URL", ErrInvalidConfig, i)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return Config{}, nil, fmt.Errorf("%w: Endpoints[%d] must be an absolute http or https URL", ErrInvalidConfig, i)
		}
		label := u.Scheme + "://" + u.Host + u.EscapedPath()
		key := strings.ToLower(u.Scheme+"://"+u.Host) + u.EscapedPath() + "?" + u.RawQuery
		if seen[key] {
			// A duplicate would vote twice.
			return Config{}, nil, fmt.Errorf("%w: Endpoints[%d] (%s) is listed twice", ErrInvalidConfig, i, label)
		}
		seen[key] = true
		eps = append(eps, endpoint{url: raw, label: label})
	}
	switch {
	case out.Interval == 0:
		out.Interval = DefaultInterval
	case out.Interval < MinInterval:
		return Config{}, nil, fmt.Errorf("%w: Interval %v is below the minimum %v", ErrInvalidConfig, out.Interval, MinInterval)
	}
	switch {
	case out.Timeout == 0:
		out.Timeout = DefaultTimeout
	case out.Timeout < 0:
		return Config{}, nil, fmt.Errorf("%w: Timeout %v is negative", ErrInvalidConfig, out.Timeout)
	}
	switch {
	case out.Jitter == 0:
		out.Jitter = DefaultJitter
	case !(out.Jitter > 0 && out.Jitter < 1): // also refuses NaN
		return Config{}, nil, fmt.Errorf("%w: Jitter %v must be in [0, 1)", ErrInvalidConfig, out.Jitter)
	}
	if out.Local != "" {
		id, err := region.ParseID(string(out.Local))
		if err != nil {
			return Config{}, nil, fmt.Errorf("%w: Local: %w", ErrInvalidConfig, err)
		}
		out.Local = id
	}
	return out, eps, nil
}

// Option sets how a [Client] does its work: what it uses, not what it polls.
type Option func(*options)

type options struct {
	httpClient *http.Client
	meter      metric.MeterProvider
	logger     *slog.Logger
	now        func() time.Time
}

func defaultOptions() options {
	return options{
		meter:  noop.NewMeterProvider(),
		logger: slog.New(slog.DiscardHandler),
		now:    time.Now,
	}
}

// WithHTTPClient makes the client send its polls with hc, e.g. for TLS
// settings or an authenticating transport. The client does not close hc's
// connections on Close; the caller owns hc. Per-request timeouts come from
// [Config.Timeout], so hc.Timeout may stay 0. Default: a pooled client of
// its own, whose idle connections Close closes.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) { o.httpClient = hc }
}

// WithMeterProvider records the client's metrics with mp. Default: a no-op
// provider (nothing is recorded; no global is read).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.meter = mp }
}

// WithLogger logs state changes and endpoint failures to l. An endpoint is
// logged when it starts failing and when it recovers, not on every poll.
// Default: no logging.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithClock makes the client read the time from now, for [Client.Staleness]
// and the metrics. Poll timing still uses real timers. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}
