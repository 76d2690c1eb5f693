package featurestore

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/metadata"
	"github.com/tandemfs/tandem/online"
	"github.com/tandemfs/tandem/region"
)

// Defaults used when a Config field is zero.
const (
	DefaultPlanTTL  = 5 * time.Minute
	DefaultMaxPlans = 256
	// DefaultVectorCacheSize is the number of vectors a view's cache keeps
	// when VectorCache.TTL is set and VectorCache.Size is not.
	DefaultVectorCacheSize = 10000
	// DefaultLoadTimeout bounds one load of a serving plan (three metadata
	// requests, each with its own metadata timeout and fallback).
	DefaultLoadTimeout = 30 * time.Second
)

// Config says what the Client reads from: one entry per region, the ACA,
// the Hopsworks project and credentials. A zero optional field means its
// default (stated at the end of its comment). [New] copies the Config, so
// the caller may reuse it. Its String and LogValue redact the API key, the
// MySQL password and the user info and query strings of URLs.
type Config struct {
	// Local is the region this process runs in: vectors are read there
	// first and metadata is read there first. Required.
	Local region.ID

	// Regions lists every region. Required: at least one, and Local among
	// them.
	Regions []RegionConfig

	// ACAEndpoints are the URLs of the Active Cluster Arbitrator, polled
	// to learn which region takes metadata writes. Default: none, and then
	// writes fail with ErrNoActiveRegion (unless WithACA is given).
	ACAEndpoints []string
	// ACAInterval is the ACA poll interval. Default: aca.DefaultInterval.
	ACAInterval time.Duration

	// APIKey is the Hopsworks API key ("Authorization: ApiKey <key>").
	// It never appears in an error, a log line or a span. Required unless
	// WithMetadata is given.
	APIKey string
	// Project is the Hopsworks project name. Required unless WithMetadata
	// is given.
	Project string
	// AllowInsecureHTTP lets the API key travel over an http:// Hopsworks
	// URL, in clear text. It is for tests and sandboxes on loopback; a
	// deployment uses https. Default: false, and New refuses an http://
	// RegionConfig.HopsworksURL when APIKey is set.
	AllowInsecureHTTP bool

	// MySQLUser and MySQLPassword log in to the MySQL servers given in
	// RegionConfig.MySQL. Default: online's ("root", no password). A
	// region without MySQL servers takes its user and password from its
	// storage connector instead (see RegionConfig.MySQL).
	MySQLUser     string
	MySQLPassword string
	// External says the process runs outside the Hopsworks cluster: a
	// region whose online store is discovered is reached through the
	// host of its loadbalancer_external_domain_mysqld variable, as hsfs
	// does for external clients, rather than the host in the storage
	// connector's JDBC URL. Default: false (inside the cluster).
	External bool

	// PlanTTL is how long a feature view's serving plan is served before
	// it must be refreshed; the Client refreshes it in the background at
	// half of it. A plan whose refresh fails keeps being served (static
	// stability, docs/ARCHITECTURE.md). Default: 5m.
	PlanTTL time.Duration
	// MaxPlans caps the feature views whose plans the Client keeps; past
	// it the least recently used is forgotten (a handle of it still reads
	// with its last plan, no longer refreshed). Default: 256.
	MaxPlans int
	// LoadTimeout bounds one load of a serving plan, however many callers
	// wait for it. Default: 30s.
	LoadTimeout time.Duration
	// MetadataTimeout bounds one metadata request to one region. Default:
	// metadata.DefaultTimeout.
	MetadataTimeout time.Duration

	// VectorCache caches vectors per feature view. Default: off.
	VectorCache VectorCacheConfig

	// MaxConcurrentGroups caps how many feature groups' queries a vector
	// runs at once under PerStatementHedging. Default: 8.
	MaxConcurrentGroups int

	// Online tunes the online store: its pools, timeouts, hedging and
	// health (see online.Config). Its Local, Regions, User and Password
	// are not used: they come from the fields above. Default: online's
	// defaults.
	Online online.Config
}

// RegionConfig is one region: its MySQL servers (RonDB MySQL API nodes)
// and its Hopsworks REST endpoint.
type RegionConfig struct {
	// ID names the region, e.g. "eu". Required.
	ID region.ID
	// MySQL lists the region's MySQL servers as host:port; a region may
	// have several, and a read hedges to another server of the same
	// region before it crosses to another region. Default: none, and then
	// the region's online store is discovered as hsfs does it: its
	// address, user and password come from the project's
	// "onlinefeaturestore" storage connector in that region's Hopsworks,
	// read on the first plan load (not in New). Not used with WithOnline.
	MySQL []string
	// HopsworksURL is the region's Hopsworks REST base, e.g.
	// "https://eu.example.com/hopsworks-api/api". Required unless
	// WithMetadata is given.
	HopsworksURL string
	// TLS secures the connections to the region's MySQL servers, given or
	// discovered (a mode such as required or verify-identity, and a CA;
	// see online.TLSConfig). Default: nil, no TLS.
	TLS *online.TLSConfig
}

// VectorCacheConfig turns on the per-view vector cache.
type VectorCacheConfig struct {
	// TTL is how long a cached vector is served. Zero turns the cache off.
	// Default: 0 (off).
	TTL time.Duration
	// Size caps the vectors cached per view. Default: 10000.
	Size int
}

// String describes c with the secrets redacted: the API key and MySQL
// password, and the user info (password included) and query strings of
// every URL.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "featurestore.Config{Local: %s, Project: %q, Regions: [", c.Local, c.Project)
	for i, r := range c.Regions {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "{%s mysql=%v hopsworks=%s}", r.ID, r.MySQL, redactURL(r.HopsworksURL))
	}
	fmt.Fprintf(&b, "], ACAEndpoints: %v, APIKey: %s, MySQLUser: %q, MySQLPassword: %s, PlanTTL: %s, VectorCache.TTL: %s}",
		redactURLs(c.ACAEndpoints), redacted(c.APIKey), c.MySQLUser, redacted(c.MySQLPassword), c.PlanTTL, c.VectorCache.TTL)
	return b.String()
}

// GoString is String, so %#v does not print secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue makes slog print c with the secrets redacted, as String does.
func (c Config) LogValue() slog.Value {
	regions := make([]slog.Attr, 0, len(c.Regions))
	for _, r := range c.Regions {
		regions = append(regions, slog.Group(string(r.ID),
			slog.Any("mysql", r.MySQL), slog.String("hopsworks", redactURL(r.HopsworksURL))))
	}
	return slog.GroupValue(
		slog.String("local", string(c.Local)),
		slog.String("project", c.Project),
		slog.Any("regions", slog.GroupValue(regions...)),
		slog.Any("aca_endpoints", redactURLs(c.ACAEndpoints)),
		slog.String("api_key", redacted(c.APIKey)),
		slog.String("mysql_user", c.MySQLUser),
		slog.String("mysql_password", redacted(c.MySQLPassword)),
		slog.Duration("plan_ttl", c.PlanTTL),
		slog.Duration("vector_cache_ttl", c.VectorCache.TTL),
	)
}

func redacted(s string) string {
	if s == "" {
		return "(unset)"
	}
	return "[REDACTED]"
}

// redactURL prints u without its password (url.URL.Redacted), query
// string or fragment, which may carry tokens. A URL that does not parse
// is not printed at all: its secrets could be anywhere in it.
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	return u.Redacted()
}

func redactURLs(us []string) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = redactURL(u)
	}
	return out
}

// normalize validates c against what the options provide and returns a
// copy with defaults filled in.
func (c Config) normalize(o *options) (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	out := c
	local, err := region.ParseID(string(c.Local))
	if err != nil {
		return bad("Local: %v", err)
	}
	out.Local = local
	if len(c.Regions) == 0 {
		return bad("Regions is empty: give each region's MySQL servers and Hopsworks URL")
	}
	out.Regions = make([]RegionConfig, len(c.Regions))
	seen := map[region.ID]bool{}
	for i, r := range c.Regions {
		id, err := region.ParseID(string(r.ID))
		if err != nil {
			return bad("Regions[%d].ID: %v", i, err)
		}
		if seen[id] {
			return bad("region %s is given twice (IDs ignore case)", id)
		}
		seen[id] = true
		if o.md == nil {
			if err := checkHopsworksURL(r.HopsworksURL, c.APIKey != "", c.AllowInsecureHTTP); err != nil {
				return bad("region %s: HopsworksURL %s", id, err)
			}
		}
		out.Regions[i] = RegionConfig{ID: id, MySQL: append([]string(nil), r.MySQL...), HopsworksURL: r.HopsworksURL, TLS: r.TLS}
	}
	if !seen[local] {
		return bad("Local region %s is not in Regions", local)
	}
	out.ACAEndpoints = append([]string(nil), c.ACAEndpoints...)
	if c.PlanTTL < 0 || c.MaxPlans < 0 || c.LoadTimeout < 0 || c.VectorCache.TTL < 0 || c.VectorCache.Size < 0 ||
		c.MaxConcurrentGroups < 0 || c.MetadataTimeout < 0 || c.ACAInterval < 0 {
		return bad("durations and sizes must not be negative")
	}
	if out.PlanTTL == 0 {
		out.PlanTTL = DefaultPlanTTL
	}
	if out.MaxPlans == 0 {
		out.MaxPlans = DefaultMaxPlans
	}
	if out.LoadTimeout == 0 {
		out.LoadTimeout = DefaultLoadTimeout
	}
	if out.VectorCache.TTL > 0 && out.VectorCache.Size == 0 {
		out.VectorCache.Size = DefaultVectorCacheSize
	}
	if out.MaxConcurrentGroups == 0 {
		out.MaxConcurrentGroups = 8
	}
	return out, nil
}

// checkHopsworksURL refuses a URL that is not http(s) with a host, and an
// http:// URL that would carry an API key unless insecure is set.
func checkHopsworksURL(s string, withKey, insecure bool) error {
	if s == "" {
		return errors.New("is empty (or pass WithMetadata)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("does not parse")
	}
	switch {
	case u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Errorf("%s is not an http(s) URL with a host", redactURL(s))
	case u.Scheme == "http" && withKey && !insecure:
		return fmt.Errorf("%s is http: the API key would travel in clear text (use https, or set AllowInsecureHTTP for a test)", redactURL(s))
	}
	return nil
}

// discovered reports whether some region's online store is to be
// discovered from its storage connector.
func (c *Config) discovered() bool {
	for _, r := range c.Regions {
		if len(r.MySQL) == 0 {
			return true
		}
	}
	return false
}

// onlineConfig is the online store's config: Config.Online's tuning with
// the regions and logins of c. logins holds the discovered login of each
// region that has no MySQL servers configured.
func (c *Config) onlineConfig(logins map[region.ID]*metadata.OnlineCredentials) online.Config {
	oc := c.Online
	oc.Local, oc.Regions = c.Local, nil
	oc.User, oc.Password = c.MySQLUser, c.MySQLPassword
	for _, r := range c.Regions {
		rc := online.RegionConfig{ID: r.ID, TLS: r.TLS}
		for _, a := range r.MySQL {
			rc.Servers = append(rc.Servers, online.ServerConfig{Addr: a})
		}
		if l, ok := logins[r.ID]; ok && len(r.MySQL) == 0 {
			rc.Servers = append(rc.Servers, discoveredServer(l))
		}
		oc.Regions = append(oc.Regions, rc)
	}
	return oc
}

func (c *Config) metadataConfig() metadata.Config {
	mc := metadata.Config{
		Local:   c.Local,
		APIKey:  c.APIKey,
		Project: c.Project,
		Timeout: c.MetadataTimeout,

		AllowInsecureHTTP: c.AllowInsecureHTTP,
		External:          c.External,
	}
	for _, r := range c.Regions {
		mc.Regions = append(mc.Regions, metadata.RegionConfig{ID: r.ID, BaseURL: r.HopsworksURL})
	}
	return mc
}

// Option injects what the Client uses (how it works, not what it reads):
// telemetry providers, a logger, an HTTP client, ready-made parts.
type Option func(*options)

type options struct {
	keyAliases bool
	tp         trace.TracerProvider
	mp         metric.MeterProvider
	logger     *slog.Logger
	hc         *http.Client
	aca        *aca.Client
	md         *metadata.Client
	store      *online.Store
	tf         transformOptions // transform.go
}

// WithKeyAliases makes feature views accept a serving key under two more
// names, as Tandem did before it followed hsfs: prefix+column and the
// plain column name, each unless it is another key's name. hsfs accepts
// only prefix+featureName for a required key and the joined feature
// otherwise; an alias is ambiguous when two feature groups share a
// column, which is why it is off by default.
func WithKeyAliases() Option { return func(o *options) { o.keyAliases = true } }

// WithTracerProvider sets where spans go, for the Client and the parts it
// creates. Default: a no-op provider (no spans); the global provider is
// never used.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *options) { o.tp = tp } }

// WithMeterProvider sets where metrics go, for the Client and the parts it
// creates. Default: a no-op provider (no metrics); the global provider is
// never used.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(o *options) { o.mp = mp } }

// WithLogger sets the logger for rare events (plan refresh failures,
// unmatched rows). Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithHTTPClient makes the metadata and ACA clients the Client creates
// send their requests through hc. The Client does not close it. Default:
// pooled clients of their own.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.hc = hc } }

// WithACA uses c to learn the active region instead of creating an ACA
// client from Config.ACAEndpoints. The Client does not close c.
func WithACA(c *aca.Client) Option { return func(o *options) { o.aca = c } }

// WithMetadata uses c for Hopsworks metadata instead of creating one from
// Config. The Client does not close c. Its own ActiveSource routes the
// writes; Config.Regions[].HopsworksURL, APIKey and Project are then not
// needed.
func WithMetadata(c *metadata.Client) Option { return func(o *options) { o.md = c } }

// WithOnline uses s for online reads instead of creating a Store from
// Config. The Client does not close s; Config.Regions[].MySQL, the MySQL
// credentials and Config.Online are then not used, and nothing is
// discovered.
func WithOnline(s *online.Store) Option { return func(o *options) { o.store = s } }
