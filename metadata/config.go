package metadata

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/internal/httpx"
	"github.com/tandemfs/tandem/region"
)

// Defaults used when a Config field is zero.
const (
	DefaultTimeout             = 5 * time.Second
	DefaultMaxBodyBytes        = 16 << 20
	DefaultReadYourWritesBound = 30 * time.Second
	// DefaultMaxStateAge bounds the age of the ACA state that writes and
	// active-region reads trust: ten default ACA poll intervals
	// (aca.DefaultInterval), long enough to ride out a few failed polls,
	// short enough that a region which lost the ACA stops writing within
	// seconds.
	DefaultMaxStateAge = 10 * time.Second
)

// Config says what the Client talks to. The zero value of each optional
// field means its default. New copies the Config; the caller may reuse it.
type Config struct {
	// Local is the region this process runs in; reads go there first.
	// Required, and it must be one of Regions.
	Local region.ID

	// Regions lists each region's Hopsworks REST endpoint. IDs compare
	// case-insensitively and must be unique. Required.
	Regions []RegionConfig

	// APIKey is sent as "Authorization: ApiKey <key>". It never appears in
	// errors, logs or spans; String and LogValue redact it. Required.
	APIKey string

	// Project is the Hopsworks project name, in any case; the feature
	// store is strings.ToLower(Project)+"_featurestore", as hsfs names it.
	// Required.
	Project string

	// Timeout bounds one request to one region, retries included. A read
	// that times out in the local region falls back to the other one.
	// Default: 5s.
	Timeout time.Duration

	// MaxBodyBytes caps a response body; larger bodies fail with
	// ErrBodyTooLarge. Default: 16 MiB.
	MaxBodyBytes int64

	// ReadYourWritesBound is how long, after a write of a feature view,
	// reads of that view prefer the region that took the write, until the
	// local region shows it. Default: 30s.
	ReadYourWritesBound time.Duration

	// MaxStateAge bounds how old (ActiveSource.Staleness) the ACA state
	// may be for a call that needs the active region: writes and
	// BatchQuery. Past it the Client asks the ACA once more, and fails
	// with an error wrapping aca.ErrStale if the state is still too old.
	// Default: DefaultMaxStateAge (10s).
	MaxStateAge time.Duration

	// AllowInsecureHTTP lets BaseURLs use http://, sending the API key in
	// clear text. For tests on loopback only. Default: false, and an
	// http:// BaseURL is refused by New.
	AllowInsecureHTTP bool

	// External says the process runs outside the Hopsworks cluster, as
	// hsfs's external clients do: OnlineStoreCredentials then takes the
	// online store's host from the loadbalancer_external_domain_mysqld
	// variable instead of the storage connector's internal host.
	// Default: false.
	External bool
}

// RegionConfig is one region's Hopsworks REST endpoint.
type RegionConfig struct {
	// ID names the region, e.g. "eu". Required.
	ID region.ID
	// BaseURL is the API base, e.g. "https://eu.example.com/hopsworks-api/api".
	// It must be https (http only with Config.AllowInsecureHTTP) and carry
	// no user info (use Config.APIKey). Required.
	BaseURL string
}

// String describes c with the API key redacted.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "metadata.Config{Local: %s, Project: %q, Regions: [", c.Local, c.Project)
	for i, r := range c.Regions {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %s", r.ID, redactURL(r.BaseURL))
	}
	fmt.Fprintf(&b, "], APIKey: %s, Timeout: %s, MaxBodyBytes: %d, ReadYourWritesBound: %s, MaxStateAge: %s, AllowInsecureHTTP: %t, External: %t}",
		redacted(c.APIKey), c.Timeout, c.MaxBodyBytes, c.ReadYourWritesBound, c.MaxStateAge, c.AllowInsecureHTTP, c.External)
	return b.String()
}

// GoString is String, so %#v does not print the key either.
func (c Config) GoString() string { return c.String() }

// LogValue makes slog print c with the API key redacted.
func (c Config) LogValue() slog.Value {
	regions := make([]slog.Attr, 0, len(c.Regions))
	for _, r := range c.Regions {
		regions = append(regions, slog.String(string(r.ID), redactURL(r.BaseURL)))
	}
	return slog.GroupValue(
		slog.String("local", string(c.Local)),
		slog.String("project", c.Project),
		slog.Any("regions", slog.GroupValue(regions...)),
		slog.String("api_key", redacted(c.APIKey)),
		slog.Duration("timeout", c.Timeout),
		slog.Int64("max_body_bytes", c.MaxBodyBytes),
		slog.Duration("read_your_writes_bound", c.ReadYourWritesBound),
		slog.Duration("max_state_age", c.MaxStateAge),
		slog.Bool("allow_insecure_http", c.AllowInsecureHTTP),
		slog.Bool("external", c.External),
	)
}

func redacted(s string) string {
	if s == "" {
		return "(unset)"
	}
	return "[REDACTED]"
}

// redactURL prints a configured URL without user info or query, which
// could hold a secret.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return httpx.Redact(u)
}

// endpoint is a validated RegionConfig.
type endpoint struct {
	base   *url.URL
	host   string
	port   string
	scheme string
}

// normalize validates c and returns a copy with defaults filled in and
// region IDs lower-cased.
func (c Config) normalize() (Config, map[region.ID]endpoint, error) {
	bad := func(format string, args ...any) (Config, map[region.ID]endpoint, error) {
		return Config{}, nil, fmt.Errorf("%w: Config: %s", ErrInvalidArgument, fmt.Sprintf(format, args...))
	}
	out := c
	local, err := region.ParseID(string(c.Local))
	if err != nil {
		return bad("Local: %v", err)
	}
	out.Local = local
	if len(c.Regions) == 0 {
		return bad("Regions is empty: give each region's Hopsworks base URL")
	}
	out.Regions = make([]RegionConfig, 0, len(c.Regions))
	eps := make(map[region.ID]endpoint, len(c.Regions))
	for i, rc := range c.Regions {
		rid, err := region.ParseID(string(rc.ID))
		if err != nil {
			return bad("Regions[%d].ID: %v", i, err)
		}
		if _, dup := eps[rid]; dup {
			return bad("Regions: region %s given twice (IDs ignore case)", rid)
		}
		u, err := url.Parse(strings.TrimRight(rc.BaseURL, "/"))
		if err != nil {
			return bad("Regions[%s].BaseURL: not a URL", rid)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return bad("Regions[%s].BaseURL %q: want https://host/hopsworks-api/api", rid, httpx.Redact(u))
		}
		if u.User != nil {
			return bad("Regions[%s].BaseURL has user info; put credentials in APIKey", rid)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return bad("Regions[%s].BaseURL %q has a query or fragment", rid, httpx.Redact(u))
		}
		if u.Scheme == "http" && !c.AllowInsecureHTTP {
			return bad("Regions[%s].BaseURL %q is http://: the API key would travel in clear text; use https (or set AllowInsecureHTTP, for tests only)", rid, httpx.Redact(u))
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		out.Regions = append(out.Regions, RegionConfig{ID: rid, BaseURL: u.String()})
		eps[rid] = endpoint{base: u, host: u.Hostname(), port: port, scheme: u.Scheme}
	}
	if _, ok := eps[local]; !ok {
		return bad("Local region %s is not in Regions", local)
	}
	if c.APIKey == "" {
		return bad("APIKey is empty")
	}
	for _, r := range c.APIKey {
		if r < ' ' || r == 0x7f {
			return bad("APIKey has a control character")
		}
	}
	if strings.TrimSpace(c.Project) == "" {
		return bad("Project is empty")
	}
	if strings.ContainsAny(c.Project, "/?#%") {
		return bad("Project %q has a character not allowed in a project name", c.Project)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Timeout", &out.Timeout, DefaultTimeout},
		{"ReadYourWritesBound", &out.ReadYourWritesBound, DefaultReadYourWritesBound},
		{"MaxStateAge", &out.MaxStateAge, DefaultMaxStateAge},
	} {
		switch {
		case *d.v < 0:
			return bad("%s %s is negative", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	switch {
	case c.MaxBodyBytes < 0:
		return bad("MaxBodyBytes %d is negative", c.MaxBodyBytes)
	case c.MaxBodyBytes == 0:
		out.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return out, eps, nil
}

// ActiveSource says which region is active. *aca.Client satisfies it.
//
// Current returns the last known state and false while none is known; it
// must not block. Refresh asks the ACA again (bounded by ctx); the Client
// calls it when no state is known yet, when the state is older than
// Config.MaxStateAge and when a region refuses a write as read-only.
// Staleness is how long ago the current state was last confirmed (see
// aca.Client.Staleness); it must not block.
type ActiveSource interface {
	Current() (aca.State, bool)
	Refresh(ctx context.Context) (aca.State, error)
	Staleness() time.Duration
}

// Option configures how the Client works (what it is given, not what it
// talks to).
type Option func(*options)

type options struct {
	httpClient *http.Client
	active     ActiveSource
	tp         trace.TracerProvider
	mp         metric.MeterProvider
	logger     *slog.Logger
	now        func() time.Time

	afterLocalRead func()
}

// WithHTTPClient makes the Client send requests through hc. The Client does
// not close hc's idle connections on Close. Default: a pooled client of its
// own.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.httpClient = hc } }

// WithActiveSource tells the Client which region is active, usually an
// *aca.Client. Without it writes and BatchQuery fail with an error
// wrapping aca.ErrNoActiveRegion.
func WithActiveSource(s ActiveSource) Option { return func(o *options) { o.active = s } }

// WithTracerProvider sets where spans go. Default: a no-op provider (no
// global is read).
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *options) { o.tp = tp } }

// WithMeterProvider sets where metrics go. Default: a no-op provider (no
// global is read).
func WithMeterProvider(mp metric.MeterProvider) Option { return func(o *options) { o.mp = mp } }

// WithLogger sets the logger. Default: logs are discarded.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// withClock injects a clock for tests of the read-your-writes bound.
func withClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// withAfterLocalRead runs f after the local read of a read-your-writes
// check, so a test can end the ctx exactly then.
func withAfterLocalRead(f func()) Option { return func(o *options) { o.afterLocalRead = f } }
