package aca

import (
	"fmt"
	"log/slog"
	"net"
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
	// once. A state is confirmed only when more than half of them (of those
	// configured, not of those that answered) report it, so use an odd
	// number, spread over both regions: with 3, one may fail; with 5, two.
	// Required. No duplicates: URLs are compared after normalisation
	// (scheme and host in lower case, ports 80 and 443 dropped for http and
	// https, an empty path read as "/", user info and query ignored), so
	// that one judge never gets two votes.
	Endpoints []string

	// Interval is the time between two polling rounds. A flip is seen at
	// most Interval plus two Timeouts after the endpoints serve it (the
	// round under way, the wait, the next round). After a
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
	seen := make(map[string]int, len(out.Endpoints))
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
		key := endpointKey(u)
		if j, dup := seen[key]; dup {
			// A duplicate would vote twice: one judge must not make a
			// quorum of two.
			return Config{}, nil, fmt.Errorf("%w: Endpoints[%d] (%s) is the same judge as Endpoints[%d]; each judge must be listed once", ErrInvalidConfig, i, label, j)
		}
		seen[key] = i
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

// endpointKey is the normalised form of an endpoint URL, under which two
// spellings of one judge collide: scheme and host in lower case (a trailing
// dot dropped), the scheme's default port dropped, an empty path read as
// "/". User info, query and fragment are left out: they do not make another
// judge.
func endpointKey(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	hostport := host
	switch {
	case port != "":
		hostport = net.JoinHostPort(host, port)
	case strings.Contains(host, ":"): // IPv6 literal
		hostport = "[" + host + "]"
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + hostport + path
}

// Option sets how a [Client] does its work: what it uses, not what it polls.
type Option func(*options)

type options struct {
	httpClient *http.Client
	meter      metric.MeterProvider
	logger     *slog.Logger
	clock      region.Clock
}

func defaultOptions() options {
	return options{
		meter:  noop.NewMeterProvider(),
		logger: slog.New(slog.DiscardHandler),
		clock:  region.SystemClock{},
	}
}

// WithHTTPClient makes the client send its polls with hc, e.g. for TLS
// settings or an authenticating transport. The client uses a copy of hc
// whose CheckRedirect refuses every redirect (see [RedirectError]); hc
// itself is not changed. The client does not close hc's connections on
// Close; the caller owns hc. Per-request timeouts come from
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

// WithClock makes the client read the time from clk: for the stamp of each
// round, [Client.Staleness] and the metrics. Poll timing (the interval, the
// timeouts) still uses real timers. It takes the same [region.Clock] as the
// online package's WithClock. Default: [region.SystemClock].
func WithClock(clk region.Clock) Option {
	return func(o *options) { o.clock = clk }
}
