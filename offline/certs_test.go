package offline_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/tandemfs/tandem/internal/flighttest"
	"github.com/tandemfs/tandem/offline"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func methods(reqs []flighttest.Request) []string {
	var out []string
	for _, r := range reqs {
		m := r.Method
		if r.Action != "" {
			m += ":" + r.Action
		}
		out = append(out, m)
	}
	return out
}

// TestTrainingDatasetCertificates checks that a path read carries the
// project's certificates the way hsfs sends them
// (python/hsfs/core/arrow_flight_client.py in logicalclocks/hopsworks-api):
// get-version decides between a header on DoGet and a registration action,
// and the service's "register first" answer makes the client register and
// try once more.
func TestTrainingDatasetCertificates(t *testing.T) {
	for _, tc := range []struct {
		name   string
		legacy bool
		silent bool     // lists get-version, answers nothing
		first  []string // the eu requests of the first read
		header bool     // DoGet carries x-certificates-json
	}{
		{"service with get-version", false, false,
			[]string{"ListActions", "DoAction:get-version", "GetFlightInfo", "DoGet"}, true},
		{"older service without it", true, false,
			[]string{"ListActions", "DoAction:register-client-certificates", "GetFlightInfo", "DoGet"}, false},
		{"get-version without an answer", true, true,
			[]string{"ListActions", "DoAction:get-version", "DoAction:register-client-certificates", "GetFlightInfo", "DoGet"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{legacy: tc.legacy, silentVersion: tc.silent})
			ctx := ctxT(t, 10*time.Second)
			for range 2 {
				tbl, err := e.client.ReadTrainingDatasetAll(ctx, "td/sales_1")
				if err != nil {
					t.Fatal(err)
				}
				if got := tableIDs(t, tbl); !slices.Equal(got, seq(0, testRows)) {
					t.Errorf("got %d rows, want %d", len(got), testRows)
				}
				tbl.Release()
			}
			reqs := e.srv[eu].Requests()
			// The second read asks nothing again: the answer is kept
			// for the connection.
			want := append(slices.Clone(tc.first), "GetFlightInfo", "DoGet")
			if got := methods(reqs); !slices.Equal(got, want) {
				t.Fatalf("eu requests %v, want %v", got, want)
			}
			if tc.legacy {
				if _, err := flighttest.ParseCertificates(reqs[len(tc.first)-3].Body); err != nil {
					t.Errorf("registered body: %v", err)
				}
			}
			for _, r := range reqs {
				if r.Signature != "" {
					t.Errorf("%s carried a signature on a path read", r.Method)
				}
				hasHeader := r.Certificates != nil
				if wantHeader := tc.header && r.Method == flighttest.MethodDoGet; hasHeader != wantHeader {
					t.Errorf("%s: x-certificates-json present = %v, want %v", r.Method, hasHeader, wantHeader)
				}
				if hasHeader {
					for _, b := range r.Certificates {
						if b < 0x20 || b > 0x7e {
							t.Fatalf("header is not printable ASCII: %q", r.Certificates)
						}
					}
				}
			}
			// A batch query read never carries the certificates.
			rd, err := e.client.ReadBatch(ctx, testFV, testVersion, time.Time{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			rd.Release()
			for _, r := range e.srv[eu].Requests()[len(reqs):] {
				if r.Certificates != nil {
					t.Errorf("query read %s carried certificates", r.Method)
				}
			}
			if n := e.srv[us].Count(); n != 0 {
				t.Errorf("standby got %d requests", n)
			}
		})
	}

	t.Run("registers again when the service asks", func(t *testing.T) {
		e := newEnv(t, envOpts{legacy: true})
		ctx := ctxT(t, 10*time.Second)
		for i := range 2 {
			if i == 1 {
				e.srv[eu].ForgetRegistrations() // a restarted query service
			}
			tbl, err := e.client.ReadTrainingDatasetAll(ctx, "td/sales_1")
			if err != nil {
				t.Fatalf("read %d: %v", i, err)
			}
			tbl.Release()
		}
		want := []string{"ListActions", "DoAction:register-client-certificates", "GetFlightInfo", "DoGet",
			"GetFlightInfo", "DoGet", "DoAction:register-client-certificates", "GetFlightInfo", "DoGet"}
		if got := methods(e.srv[eu].Requests()); !slices.Equal(got, want) {
			t.Errorf("eu requests %v, want %v", got, want)
		}
	})

	for _, tc := range []struct {
		name   string
		legacy bool
		certs  offline.Certificates
		code   codes.Code
	}{
		{"no certificates, header service", false, offline.Certificates{}, codes.Unauthenticated},
		{"no certificates, older service", true, offline.Certificates{}, codes.Unknown},
		{"another project's, header service", false, offline.Certificates{KeyStore: []byte("k"), TrustStore: []byte("t")}, codes.PermissionDenied},
		{"another project's, older service", true, offline.Certificates{KeyStore: []byte("k"), TrustStore: []byte("t")}, codes.PermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{legacy: tc.legacy, cfg: func(c *offline.Config) {
				for i := range c.Regions {
					c.Regions[i].Certificates = tc.certs
				}
			}})
			ctx := ctxT(t, 10*time.Second)
			_, err := e.client.ReadTrainingDatasetAll(ctx, "td/sales_1", offline.WithRetry(2))
			if !errors.Is(err, offline.ErrUnauthorized) || status.Code(err) != tc.code {
				t.Fatalf("err = %v, want ErrUnauthorized with %v", err, tc.code)
			}
			if offline.IsRetryable(err) {
				t.Error("a refusal is reported retryable")
			}
			if !strings.HasPrefix(err.Error(), "offline: ") || !strings.Contains(err.Error(), "RegionConfig.Certificates") {
				t.Errorf("message %q lacks the prefix or the hint", err)
			}
		})
	}
}

func TestCertificatesNeverPrinted(t *testing.T) {
	secret := "s3cr3t-password"
	dir := t.TempDir()
	ks := filepath.Join(dir, "keyStore.jks")
	if err := os.WriteFile(ks, []byte("KEYSTORE-BYTES"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := offline.Certificates{KeyStoreFile: ks, TrustStore: []byte("TRUSTSTORE-BYTES"), KeyPEM: []byte("-----BEGIN PRIVATE KEY-----KEYBYTES"), Password: secret}
	cfg := offline.Config{Regions: []offline.RegionConfig{{ID: eu, Addr: "h", Certificates: c}}}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("cfg", "certs", c, "cfg", cfg)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("cfg", "certs", c, "cfg", cfg)
	js, err := json.Marshal(struct{ Nested offline.Certificates }{c})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", c), logged.String(), string(js)} {
		for _, bad := range []string{secret, "TRUSTSTORE", "KEYBYTES", base64.StdEncoding.EncodeToString([]byte("TRUSTSTORE-BYTES")), "LS0tLS1CRUdJTi"} {
			if strings.Contains(s, bad) {
				t.Errorf("%q leaks %q", s, bad)
			}
		}
	}
	// A bad pair's error names no key material either.
	_, err = offline.New(offline.Config{Regions: []offline.RegionConfig{{ID: eu, Addr: "h", Certificates: offline.Certificates{
		CertPEM: []byte("CERTBYTES"), KeyPEM: []byte("KEYBYTES"), Password: secret}}}}, flighttest.NewArbiter(eu, us))
	if err == nil || strings.Contains(err.Error(), "KEYBYTES") || strings.Contains(err.Error(), secret) {
		t.Errorf("New: %v", err)
	}
}

func TestCertificatesValidation(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    offline.Certificates
	}{
		{"key store without trust store", offline.Certificates{KeyStore: []byte("k")}},
		{"trust store without key store", offline.Certificates{TrustStore: []byte("t")}},
		{"password without stores", offline.Certificates{Password: "p"}},
		{"file and bytes", offline.Certificates{KeyStoreFile: empty, KeyStore: []byte("k"), TrustStore: []byte("t")}},
		{"empty file", offline.Certificates{KeyStoreFile: empty, TrustStore: []byte("t")}},
		{"missing file", offline.Certificates{KeyStoreFile: filepath.Join(dir, "nope"), TrustStore: []byte("t")}},
		{"cert without key", offline.Certificates{CertPEM: []byte("c")}},
		{"key without cert", offline.Certificates{KeyFile: empty}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := offline.New(offline.Config{Regions: []offline.RegionConfig{{ID: eu, Addr: "h", Certificates: tc.c}}}, flighttest.NewArbiter(eu, us))
			if err == nil {
				c.Close()
				t.Fatal("New accepted it")
			}
			if !errors.Is(err, offline.ErrInvalidConfig) {
				t.Errorf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// pki is a CA with a server certificate for 127.0.0.1 and a client
// certificate, made for the test.
type pki struct {
	caPEM, serverCert, serverKey, clientCert, clientKey []byte
	pool                                                *x509.CertPool
}

func newPKI(t *testing.T) pki {
	t.Helper()
	key := func() (*ecdsa.PrivateKey, []byte) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	now := time.Now()
	caKey, _ := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) ([]byte, []byte) {
		k, kp := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), kp
	}
	p := pki{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.serverCert, p.serverKey = leaf(2, "flyingduck", x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = leaf(3, "demo__alice", x509.ExtKeyUsageClientAuth)
	return p
}

// TestMutualTLS reads from a query service that requires a client
// certificate signed by the project CA, as hsfs connects (_extract_certs:
// CA chain, client certificate and key).
func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	pair, err := tls.X509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := flighttest.Start(flighttest.Config{Version: testServerVersion, CheckCertificates: checkTestCerts, TLS: &tls.Config{
		Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.pool, MinVersion: tls.VersionTLS12,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	recs := testRecords(memory.DefaultAllocator)
	if err := srv.AddTrainingDataset("td/sales_1", testSchema, recs); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		r.Release()
	}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca_chain.pem")
	if err := os.WriteFile(caFile, p.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	withStores := func(c offline.Certificates) offline.Certificates {
		c.KeyStore, c.TrustStore, c.Password = testCerts.KeyStore, testCerts.TrustStore, testCerts.Password
		return c
	}
	for _, tc := range []struct {
		name  string
		certs offline.Certificates
		ok    bool
	}{
		{"client certificate as PEM bytes", withStores(offline.Certificates{CertPEM: p.clientCert, KeyPEM: p.clientKey, CAPEM: p.caPEM}), true},
		{"CA from a file", withStores(offline.Certificates{CertPEM: p.clientCert, KeyPEM: p.clientKey, CAFile: caFile}), true},
		{"no client certificate", withStores(offline.Certificates{CAPEM: p.caPEM}), false},
		{"system roots", withStores(offline.Certificates{CertPEM: p.clientCert, KeyPEM: p.clientKey}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := offline.New(offline.Config{Regions: []offline.RegionConfig{{ID: eu, Addr: srv.Addr(), Certificates: tc.certs}}, HealthcheckTimeout: 5 * time.Second},
				flighttest.NewArbiter(eu, us))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tbl, err := c.ReadTrainingDatasetAll(ctxT(t, 10*time.Second), "td/sales_1")
			if tc.ok != (err == nil) {
				t.Fatalf("read: %v, want ok=%v", err, tc.ok)
			}
			if err == nil {
				if n := tbl.NumRows(); n != testRows {
					t.Errorf("%d rows", n)
				}
				tbl.Release()
			}
		})
	}
}
