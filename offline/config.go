package offline

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
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
// bounds GetFlightInfo, get-version and register-client-certificates by the
// healthcheck timeout.
const (
	DefaultHealthcheckTimeout = 5 * time.Second
	DefaultInfoTimeout        = 5 * time.Second
	DefaultReadTimeout        = 15 * time.Minute
	DefaultRetryBackoff       = 250 * time.Millisecond
	DefaultMaxRetryBackoff    = 4 * time.Second
	DefaultMaxRecvMsgSize     = 256 << 20

	// DefaultMaxStateAge bounds the age of the ACA state a read trusts.
	// Ten polling rounds of the ACA client's default 1 s interval: one
	// slow or failed round (or a few) does not stop reads, while a client
	// cut off from the ACA stops routing reads by what it last heard
	// within seconds, well before an operator's failover completes.
	DefaultMaxStateAge = 10 * time.Second
)

// Config says where each region's query service is and how long calls may
// take. A zero field means its default. [New] copies it, so the caller may
// reuse or change theirs afterwards.
type Config struct {
	// Regions lists each region's query service. A region that the ACA
	// names active but that is not listed cannot be read
	// ([ErrNoEndpoint]). IDs compare case-insensitively and must be
	// unique. Required: at least one.
	Regions []RegionConfig

	// MaxStateAge bounds how old the ACA's last confirmed state may be
	// (ActiveSource.Staleness) when a read or a healthcheck is routed by
	// it: past it the client asks a source that can Refresh for one more
	// round, and if the state is still too old the call fails with an
	// error wrapping aca.ErrStale and sends nothing, rather than trust an
	// old answer about which region is active. It is checked when each attempt is routed, not between
	// the record batches of a stream already open. Set a large value to
	// trust any age. Default: 10s ([DefaultMaxStateAge]).
	MaxStateAge time.Duration

	// HealthcheckTimeout bounds one healthcheck, ListActions, get-version
	// or register-client-certificates action. Default: 5s.
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

// RegionConfig is one region's query service, in the shape of
// featurestore.RegionConfig and online.RegionConfig. The zero RegionConfig
// is invalid: ID and Addr are required. Without TLS, Certificates or
// Insecure the connection uses TLS with the system's roots and no client
// certificate.
type RegionConfig struct {
	// ID names the region as the ACA does, e.g. "eu". Required.
	ID region.ID

	// Addr is host:port; a bare host gets port 5005. Required.
	Addr string

	// TLS is the base TLS configuration, for example with a ServerName
	// override (hsfs overrides it to flyingduck.service.<domain>). It is
	// cloned; Certificates' client certificate and CA are added to the
	// clone. Default: nil, an empty configuration.
	TLS *tls.Config

	// Certificates are the project's certificates for this region's
	// query service: the client certificate and CA of its mutual TLS, and
	// the key and trust stores that training-dataset reads carry.
	// Default: none.
	Certificates Certificates

	// Insecure uses plaintext gRPC, for tests only. It cannot be combined
	// with TLS or with Certificates' CertFile, CertPEM, KeyFile, KeyPEM,
	// CAFile or CAPEM. Default: false.
	Insecure bool
}

// Certificates are a project's certificates as Hopsworks hands them out
// (GET /project/{id}/credentials: caChain, clientCert, clientKey, kStore,
// tStore, password; python/hopsworks_common/client/external.py in
// logicalclocks/hopsworks-api). Each part may be given as a file or as
// bytes; a file is read by [New]. hsfs uses them in two ways
// (python/hsfs/core/arrow_flight_client.py):
//
//   - The PEM client certificate, key and CA make the connection's mutual
//     TLS (_extract_certs).
//   - The JKS key store, trust store and their password are sent to the
//     query service for training-dataset reads (_certificates), in the
//     x-certificates-json header of DoGet when the service answers
//     get-version, else once per connection with the
//     register-client-certificates action.
//
// Certificates are secrets: they never appear in an error, a log line or a
// span, and String, GoString, LogValue and MarshalJSON redact them. The zero value is
// none.
type Certificates struct {
	// CertFile or CertPEM is the PEM client certificate (clientCert).
	// Give it with the key, or neither. Default: none.
	CertFile string
	CertPEM  []byte

	// KeyFile or KeyPEM is the PEM private key of the client certificate
	// (clientKey). Default: none.
	KeyFile string
	KeyPEM  []byte

	// CAFile and CAPEM are PEM root CAs (caChain) to trust instead of the
	// system's; both may be given. Default: none, the system's roots.
	CAFile string
	CAPEM  []byte

	// KeyStoreFile or KeyStore is the JKS key store (kStore, decoded from
	// base64). Give it with the trust store, or neither; without them
	// training-dataset reads carry no certificates. Default: none.
	KeyStoreFile string
	KeyStore     []byte

	// TrustStoreFile or TrustStore is the JKS trust store (tStore,
	// decoded from base64). Default: none.
	TrustStoreFile string
	TrustStore     []byte

	// Password is the stores' password (password; hsfs's cert_key).
	// Default: "".
	Password string
}

// String describes which parts c holds, never their content.
func (c Certificates) String() string {
	part := func(file string, b []byte) string {
		switch {
		case file != "":
			return "file"
		case len(b) > 0:
			return "bytes"
		}
		return "none"
	}
	pw := "none"
	if c.Password != "" {
		pw = "[REDACTED]"
	}
	return fmt.Sprintf("offline.Certificates{cert: %s, key: %s, ca: %s, keystore: %s, truststore: %s, password: %s}",
		part(c.CertFile, c.CertPEM), part(c.KeyFile, c.KeyPEM), part(c.CAFile, c.CAPEM),
		part(c.KeyStoreFile, c.KeyStore), part(c.TrustStoreFile, c.TrustStore), pw)
}

// GoString is String, so %#v redacts too.
func (c Certificates) GoString() string { return c.String() }

// LogValue is String, for log/slog.
func (c Certificates) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON encodes String, so a Config marshalled to JSON (as slog's
// JSONHandler does with a nested value) redacts too.
func (c Certificates) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

func (c Certificates) hasTLS() bool {
	return c.CertFile != "" || len(c.CertPEM) > 0 || c.KeyFile != "" || len(c.KeyPEM) > 0 ||
		c.CAFile != "" || len(c.CAPEM) > 0
}

// regionSetup is what New derives from a RegionConfig once: its transport
// credentials and, if it has stores, the certificates JSON.
type regionSetup struct {
	RegionConfig
	creds credentials.TransportCredentials
	certs []byte // the x-certificates-json value; nil without stores
}

// normalize validates cfg and returns a copy with defaults filled in and
// each region's setup, in cfg.Regions' order.
func (cfg Config) normalize() (Config, []regionSetup, error) {
	out := cfg
	if len(cfg.Regions) == 0 {
		return Config{}, nil, fmt.Errorf("%w: Regions is empty; give the query service address of each region", ErrInvalidConfig)
	}
	for name, d := range map[string]*time.Duration{
		"HealthcheckTimeout": &out.HealthcheckTimeout, "InfoTimeout": &out.InfoTimeout,
		"ReadTimeout": &out.ReadTimeout, "RetryBackoff": &out.RetryBackoff, "MaxRetryBackoff": &out.MaxRetryBackoff,
		"MaxStateAge": &out.MaxStateAge,
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
	setDefault(&out.MaxStateAge, DefaultMaxStateAge)
	if out.MaxRetryBackoff < out.RetryBackoff {
		out.MaxRetryBackoff = out.RetryBackoff
	}

	out.Regions = make([]RegionConfig, 0, len(cfg.Regions))
	setups := make([]regionSetup, 0, len(cfg.Regions))
	for i, rg := range cfg.Regions {
		id, err := region.ParseID(string(rg.ID))
		if err != nil {
			return Config{}, nil, fmt.Errorf("%w: Regions[%d].ID: %w", ErrInvalidConfig, i, err)
		}
		id = normID(id)
		for _, prev := range setups {
			if prev.ID == id {
				return Config{}, nil, fmt.Errorf("%w: region %q is given twice (IDs compare case-insensitively)", ErrInvalidConfig, id)
			}
		}
		rg.ID = id
		su, err := rg.setup()
		if err != nil {
			return Config{}, nil, fmt.Errorf("%w: region %q: %w", ErrInvalidConfig, id, err)
		}
		out.Regions = append(out.Regions, su.RegionConfig)
		setups = append(setups, su)
	}
	return out, setups, nil
}

func (rg RegionConfig) setup() (regionSetup, error) {
	if rg.Addr == "" {
		return regionSetup{}, fmt.Errorf("the Addr is empty")
	}
	if _, _, err := net.SplitHostPort(rg.Addr); err != nil {
		rg.Addr = net.JoinHostPort(rg.Addr, DefaultPort)
		if _, _, err := net.SplitHostPort(rg.Addr); err != nil {
			return regionSetup{}, fmt.Errorf("the Addr %q is not host or host:port", rg.Addr)
		}
	}
	c := rg.Certificates
	certs, err := c.storesJSON()
	if err != nil {
		return regionSetup{}, err
	}
	if rg.TLS != nil {
		rg.TLS = rg.TLS.Clone()
	}
	// Only the file names are kept in the copy: the secrets live in the
	// derived credentials and JSON alone.
	rg.Certificates = Certificates{CertFile: c.CertFile, KeyFile: c.KeyFile, CAFile: c.CAFile,
		KeyStoreFile: c.KeyStoreFile, TrustStoreFile: c.TrustStoreFile}
	if rg.Insecure {
		if rg.TLS != nil || c.hasTLS() {
			return regionSetup{}, fmt.Errorf("the Insecure flag cannot be combined with TLS or a client certificate or CA")
		}
		return regionSetup{RegionConfig: rg, creds: insecure.NewCredentials(), certs: certs}, nil
	}
	tc, err := c.tlsConfig(rg.TLS)
	if err != nil {
		return regionSetup{}, err
	}
	return regionSetup{RegionConfig: rg, creds: credentials.NewTLS(tc), certs: certs}, nil
}

// tlsConfig adds c's client certificate and CA to a clone of base.
func (c Certificates) tlsConfig(base *tls.Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		tc = base.Clone()
	}
	cert, err := either("CertFile", c.CertFile, "CertPEM", c.CertPEM)
	if err != nil {
		return nil, err
	}
	key, err := either("KeyFile", c.KeyFile, "KeyPEM", c.KeyPEM)
	if err != nil {
		return nil, err
	}
	switch {
	case len(cert) > 0 && len(key) > 0:
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			// The parse error names no key material.
			return nil, fmt.Errorf("the client certificate and key do not make a pair: %w", err)
		}
		tc.Certificates = append(tc.Certificates, pair)
	case len(cert) > 0 || len(key) > 0:
		return nil, fmt.Errorf("give both the client certificate and its key, or neither")
	}
	if c.CAFile != "" || len(c.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if c.CAFile != "" {
			b, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read CAFile: %w", err)
			}
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("CAFile %q holds no PEM certificate", c.CAFile)
			}
		}
		if len(c.CAPEM) > 0 && !pool.AppendCertsFromPEM(c.CAPEM) {
			return nil, fmt.Errorf("CAPEM holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// storesJSON returns the certificates JSON of c's stores, nil without
// stores.
func (c Certificates) storesJSON() ([]byte, error) {
	ks, err := either("KeyStoreFile", c.KeyStoreFile, "KeyStore", c.KeyStore)
	if err != nil {
		return nil, err
	}
	ts, err := either("TrustStoreFile", c.TrustStoreFile, "TrustStore", c.TrustStore)
	if err != nil {
		return nil, err
	}
	switch {
	case len(ks) > 0 && len(ts) > 0:
		return certificatesJSON(ks, ts, c.Password), nil
	case len(ks) > 0 || len(ts) > 0:
		return nil, fmt.Errorf("give both the key store and the trust store, or neither")
	case c.Password != "":
		return nil, fmt.Errorf("a Password is given without the key and trust stores")
	}
	return nil, nil
}

// either reads file or returns b; giving both is an error.
func either(fileField, file, bytesField string, b []byte) ([]byte, error) {
	if file != "" && len(b) > 0 {
		return nil, fmt.Errorf("give %s or %s, not both", fileField, bytesField)
	}
	if file == "" {
		return append([]byte(nil), b...), nil
	}
	out, err := os.ReadFile(file)
	if err != nil {
		// os.PathError names the file, not its content.
		return nil, fmt.Errorf("read %s: %w", fileField, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s %q is empty", fileField, file)
	}
	return out, nil
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}
