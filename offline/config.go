package offline

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"time"

	"github.com/tandemfs/tandem/region"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// DefaultPort is the query service's Arrow Flight port (hsfs connects to
// grpc+tls://<host>:5005).
const DefaultPort = "5005"

// Defaults of [Config]. The healthcheck and read timeouts are hsfs's
// (DEFAULT_HEALTHCHECK_TIMEOUT_SECONDS, DEFAULT_TIMEOUT_SECONDS); hsfs also
// bounds GetFlightInfo by the healthcheck timeout.
const (
	DefaultHealthcheckTimeout = 5 * time.Second
	DefaultInfoTimeout        = 5 * time.Second
	DefaultReadTimeout        = 15 * time.Minute
	DefaultRetryBackoff       = 250 * time.Millisecond
	DefaultMaxRetryBackoff    = 4 * time.Second
	DefaultMaxRecvMsgSize     = 256 << 20
)

// Config says where each region's query service is and how long calls may
// take. A zero field means its default. [New] copies it, so the caller may
// reuse or change theirs afterwards.
type Config struct {
	// Endpoints maps each region to its query service. A region that the
	// ACA names active but that has no entry here cannot be read
	// ([ErrNoEndpoint]). Keys compare case-insensitively. Required: at
	// least one.
	Endpoints map[region.ID]Endpoint

	// HealthcheckTimeout bounds one healthcheck action. Default: 5s.
	HealthcheckTimeout time.Duration

	// InfoTimeout bounds one GetFlightInfo call, during which the query
	// service plans the read. Default: 5s.
	InfoTimeout time.Duration

	// ReadTimeout bounds one DoGet stream from its start to its last
	// record, on top of the caller's ctx. Default: 15m.
	ReadTimeout time.Duration

	// RetryBackoff is the first wait before a retry that goes back to the
	// same region (it failed with Unavailable); it doubles up to
	// MaxRetryBackoff. A retry that follows a flip to a new region does not
	// wait. Default: 250ms.
	RetryBackoff time.Duration

	// MaxRetryBackoff caps RetryBackoff's growth. Default: 4s.
	MaxRetryBackoff time.Duration

	// MaxRecvMsgSize caps one gRPC message, that is one record batch, from
	// the query service. gRPC's own default (4 MiB) is too small for wide
	// batches; Arrow Flight C++ lifts the cap altogether. Default: 256 MiB.
	MaxRecvMsgSize int
}

// Endpoint is one region's query service. The zero Endpoint is invalid: Addr
// is required. Without TLS, CAFile, CAPEM or Insecure the connection uses TLS
// with the system's roots.
type Endpoint struct {
	// Addr is host:port; a bare host gets port 5005.
	Addr string

	// TLS is the TLS configuration, for example with client certificates
	// (hsfs uses mutual TLS) or a ServerName override (hsfs overrides it to
	// flyingduck.service.consul). It is cloned. Default: nil, an empty
	// configuration.
	TLS *tls.Config

	// CAFile names a PEM file of root CAs to trust instead of the system's.
	// It is read by [New]. Default: "", none.
	CAFile string

	// CAPEM holds PEM root CAs to trust, in addition to CAFile's.
	// Default: nil, none.
	CAPEM []byte

	// Insecure uses plaintext gRPC, for tests only. It cannot be combined
	// with TLS, CAFile or CAPEM. Default: false.
	Insecure bool
}

// normalize validates cfg and returns a copy with defaults filled in and the
// transport credentials of each region.
func (cfg Config) normalize() (Config, map[region.ID]credentials.TransportCredentials, error) {
	out := cfg
	if len(cfg.Endpoints) == 0 {
		return Config{}, nil, fmt.Errorf("%w: Endpoints is empty; give the query service address of each region", ErrInvalidConfig)
	}
	for name, d := range map[string]*time.Duration{
		"HealthcheckTimeout": &out.HealthcheckTimeout, "InfoTimeout": &out.InfoTimeout,
		"ReadTimeout": &out.ReadTimeout, "RetryBackoff": &out.RetryBackoff, "MaxRetryBackoff": &out.MaxRetryBackoff,
	} {
		if *d < 0 {
			return Config{}, nil, fmt.Errorf("%w: %s is negative (%v); use 0 for the default", ErrInvalidConfig, name, *d)
		}
	}
	if out.MaxRecvMsgSize < 0 {
		return Config{}, nil, fmt.Errorf("%w: MaxRecvMsgSize is negative; use 0 for the default", ErrInvalidConfig)
	}
	setDefault(&out.HealthcheckTimeout, DefaultHealthcheckTimeout)
	setDefault(&out.InfoTimeout, DefaultInfoTimeout)
	setDefault(&out.ReadTimeout, DefaultReadTimeout)
	setDefault(&out.RetryBackoff, DefaultRetryBackoff)
	setDefault(&out.MaxRetryBackoff, DefaultMaxRetryBackoff)
	setDefault(&out.MaxRecvMsgSize, DefaultMaxRecvMsgSize)
	if out.MaxRetryBackoff < out.RetryBackoff {
		out.MaxRetryBackoff = out.RetryBackoff
	}

	out.Endpoints = make(map[region.ID]Endpoint, len(cfg.Endpoints))
	creds := make(map[region.ID]credentials.TransportCredentials, len(cfg.Endpoints))
	for _, id := range sortedKeys(cfg.Endpoints) {
		ep := cfg.Endpoints[id]
		rid, err := region.ParseID(string(id))
		if err != nil {
			return Config{}, nil, fmt.Errorf("%w: endpoint key: %w", ErrInvalidConfig, err)
		}
		if _, dup := out.Endpoints[rid]; dup {
			return Config{}, nil, fmt.Errorf("%w: region %q is given twice (keys compare case-insensitively)", ErrInvalidConfig, rid)
		}
		ep, cr, err := ep.normalize()
		if err != nil {
			return Config{}, nil, fmt.Errorf("%w: region %q: %w", ErrInvalidConfig, rid, err)
		}
		out.Endpoints[rid] = ep
		creds[rid] = cr
	}
	return out, creds, nil
}

func (ep Endpoint) normalize() (Endpoint, credentials.TransportCredentials, error) {
	if ep.Addr == "" {
		return Endpoint{}, nil, fmt.Errorf("the Addr is empty")
	}
	if _, _, err := net.SplitHostPort(ep.Addr); err != nil {
		ep.Addr = net.JoinHostPort(ep.Addr, DefaultPort)
		if _, _, err := net.SplitHostPort(ep.Addr); err != nil {
			return Endpoint{}, nil, fmt.Errorf("the Addr %q is not host or host:port", ep.Addr)
		}
	}
	ep.CAPEM = append([]byte(nil), ep.CAPEM...)
	if ep.Insecure {
		if ep.TLS != nil || ep.CAFile != "" || len(ep.CAPEM) > 0 {
			return Endpoint{}, nil, fmt.Errorf("the Insecure flag cannot be combined with TLS, CAFile or CAPEM")
		}
		return ep, insecure.NewCredentials(), nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if ep.TLS != nil {
		tc = ep.TLS.Clone()
		ep.TLS = ep.TLS.Clone()
	}
	if ep.CAFile != "" || len(ep.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if ep.CAFile != "" {
			b, err := os.ReadFile(ep.CAFile)
			if err != nil {
				return Endpoint{}, nil, fmt.Errorf("read CAFile: %w", err)
			}
			if !pool.AppendCertsFromPEM(b) {
				return Endpoint{}, nil, fmt.Errorf("CAFile %q holds no PEM certificate", ep.CAFile)
			}
		}
		if len(ep.CAPEM) > 0 && !pool.AppendCertsFromPEM(ep.CAPEM) {
			return Endpoint{}, nil, fmt.Errorf("CAPEM holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	return ep, credentials.NewTLS(tc), nil
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// sortedKeys makes the "given twice" error deterministic.
func sortedKeys(m map[region.ID]Endpoint) []region.ID { return slices.Sorted(maps.Keys(m)) }
