package metadata

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/region"
)

// Defaults used when a Config field is zero.
const (
	DefaultTimeout             = 5 * time.Second
	DefaultMaxBodyBytes        = 16 << 20
	DefaultReadYourWritesBound = 30 * time.Second
)

// Config says what the Client talks to. The zero value of each optional
// field means its default. New copies the Config; the caller may reuse it.
type Config struct {
	// Local is the region this process runs in; reads go there first.
	// Required, and it must be a key of Regions.
	Local region.ID

	// Regions maps each region to its Hopsworks REST endpoint. Keys compare
	// case-insensitively. Required.
	Regions map[region.ID]Endpoint

	// APIKey is sent as "Authorization: ApiKey <key>". It never appears in
	// errors, logs or spans; String and LogValue redact it. Required.
	APIKey string

	// Project is the Hopsworks project name. Required.
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
}

// Endpoint is one region's Hopsworks REST endpoint.
type Endpoint struct {
	// BaseURL is the API base, e.g. "https://eu.example.com/hopsworks-api/api".
	// It must be http or https and carry no user info (use Config.APIKey).
	BaseURL string
}

// String describes c with the API key redacted.
func (c Config) String() string {
	ids := make([]string, 0, len(c.Regions))
	for id := range c.Regions {
		ids = append(ids, string(id))
	}
	sort.Strings(ids)
	var b strings.Builder
	fmt.Fprintf(&b, "metadata.Config{Local: %s, Project: %q, Regions: {", c.Local, c.Project)
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %s", id, c.Regions[region.ID(id)].BaseURL)
	}
	fmt.Fprintf(&b, "}, APIKey: %s, Timeout: %s, MaxBodyBytes: %d, ReadYourWritesBound: %s}",
		redacted(c.APIKey), c.Timeout, c.MaxBodyBytes, c.ReadYourWritesBound)
	return b.String()
}

// GoString is String, so %#v does not print the key either.
func (c Config) GoString() string { return c.String() }

// LogValue makes slog print c with the API key redacted.
func (c Config) LogValue() slog.Value {
	regions := make([]slog.Attr, 0, len(c.Regions))
	for id, ep := range c.Regions {
		regions = append(regions, slog.String(string(id), ep.BaseURL))
	}
	sort.Slice(regions, func(i, j int) bool { return regions[i].Key < regions[j].Key })
	return slog.GroupValue(
		slog.String("local", string(c.Local)),
		slog.String("project", c.Project),
		slog.Any("regions", slog.GroupValue(regions...)),
		slog.String("api_key", redacted(c.APIKey)),
		slog.Duration("timeout", c.Timeout),
		slog.Int64("max_body_bytes", c.MaxBodyBytes),
		slog.Duration("read_your_writes_bound", c.ReadYourWritesBound),
	)
}

func redacted(s string) string {
	if s == "" {
		return "(unset)"
	}
	return "[REDACTED]"
}

// endpoint is a validated Endpoint.
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
	out.Regions = make(map[region.ID]Endpoint, len(c.Regions))
	eps := make(map[region.ID]endpoint, len(c.Regions))
	for id, ep := range c.Regions {
		rid, err := region.ParseID(string(id))
		if err != nil {
			return bad("Regions: %v", err)
		}
		if _, dup := out.Regions[rid]; dup {
			return bad("Regions: region %s given twice (IDs ignore case)", rid)
		}
		u, err := url.Parse(strings.TrimRight(ep.BaseURL, "/"))
		if err != nil {
			// The url error may echo the URL; it is ours, not a secret.
			return bad("Regions[%s].BaseURL: %v", rid, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return bad("Regions[%s].BaseURL %q: want http(s)://host/hopsworks-api/api", rid, u.Redacted())
		}
		if u.User != nil {
			return bad("Regions[%s].BaseURL has user info; put credentials in APIKey", rid)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return bad("Regions[%s].BaseURL %q has a query or fragment", rid, u.Redacted())
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		out.Regions[rid] = Endpoint{BaseURL: u.String()}
		eps[rid] = endpoint{base: u, host: u.Hostname(), port: port, scheme: u.Scheme}
	}
	if _, ok := out.Regions[local]; !ok {
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
	switch {
	case c.Timeout < 0:
		return bad("Timeout %s is negative", c.Timeout)
	case c.Timeout == 0:
		out.Timeout = DefaultTimeout
	}
	switch {
	case c.MaxBodyBytes < 0:
		return bad("MaxBodyBytes %d is negative", c.MaxBodyBytes)
	case c.MaxBodyBytes == 0:
		out.MaxBodyBytes = DefaultMaxBodyBytes
	}
	switch {
	case c.ReadYourWritesBound < 0:
		return bad("ReadYourWritesBound %s is negative", c.ReadYourWritesBound)
	case c.ReadYourWritesBound == 0:
		out.ReadYourWritesBound = DefaultReadYourWritesBound
	}
	return out, eps, nil
}

// ActiveSource says which region is active. *aca.Client satisfies it.
//
// Current returns the last known state and false while none is known; it
// must not block. Refresh asks the ACA again (bounded by ctx); the Client
// calls it when no state is known yet and when a region refuses a write as
// read-only.
type ActiveSource interface {
	Current() (aca.State, bool)
	Refresh(ctx context.Context) (aca.State, error)
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
}

// WithHTTPClient makes the Client send requests through hc. The Client does
// not close hc's idle connections on Close. Default: a pooled client of its
// own.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.httpClient = hc } }

// WithActiveSource tells the Client which region is active, usually an
// *aca.Client. Without it writes and BatchQuery fail with ErrNoActiveRegion.
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
