package online

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql/driver"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/mariadbtest"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a server certificate for 127.0.0.1 and localhost, signed by
// ca, and its key into dir, and returns their paths.
func (ca *testCA) issue(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	kb := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyFile, kb, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// sessionCipher dials one connection of the Store's server and returns
// its session's Ssl_cipher ("" for a clear-text session).
func sessionCipher(t *testing.T, s *Store) (string, error) {
	t.Helper()
	pc, err := dialConn(ctxT(t, 5*time.Second), s.servers[0].mc)
	if err != nil {
		return "", err
	}
	defer pc.dc.Close()
	rows, err := pc.dc.(driver.QueryerContext).QueryContext(ctxT(t, 5*time.Second), "SHOW SESSION STATUS LIKE 'Ssl_cipher'", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	dest := make([]driver.Value, 2)
	if err := rows.Next(dest); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	v, _ := dest[1].([]byte)
	return string(v), nil
}

// TestTLS: a MariaDB started with certificates the test made: the verified
// modes give an encrypted session, a CA that did not sign the server's
// certificate is refused, and no TLS stays clear text.
func TestTLS(t *testing.T) {
	ca, other := newTestCA(t, "tandem test CA"), newTestCA(t, "some other CA")
	dir := t.TempDir()
	certFile, keyFile := ca.issue(t, dir)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	c := startClusterOpts(t, 1, mariadbtest.Options{Args: []string{
		"--ssl-cert=" + certFile, "--ssl-key=" + keyFile, "--ssl-ca=" + caFile,
	}})
	for _, tc := range []struct {
		name    string
		tls     *TLSConfig
		cipher  bool
		refused bool
	}{
		{"none", nil, false, false},
		{"disabled", &TLSConfig{Mode: TLSDisabled}, false, false},
		{"preferred", &TLSConfig{Mode: TLSPreferred}, true, false},
		{"required", &TLSConfig{Mode: TLSRequired}, true, false},
		{"verify-ca", &TLSConfig{Mode: TLSVerifyCA, CAPEM: ca.pem}, true, false},
		{"verify-identity by CA file", &TLSConfig{CAFile: caFile}, true, false},
		{"verify-identity with server name", &TLSConfig{Mode: TLSVerifyIdentity, CAPEM: ca.pem, ServerName: "localhost"}, true, false},
		{"wrong CA", &TLSConfig{Mode: TLSVerifyIdentity, CAPEM: other.pem}, false, true},
		{"wrong CA, verify-ca", &TLSConfig{Mode: TLSVerifyCA, CAPEM: other.pem}, false, true},
		{"wrong server name", &TLSConfig{Mode: TLSVerifyIdentity, CAPEM: ca.pem, ServerName: "db.example"}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := c.config("eu", "eu")
			cfg.Regions[0].TLS = tc.tls
			s := newStore(t, cfg)
			cipher, err := sessionCipher(t, s)
			if tc.refused {
				if err == nil || !strings.Contains(err.Error(), "certificate") {
					t.Fatalf("dial with %+v: %v, want a certificate error", tc.tls, err)
				}
				if perr := s.Ping(ctxT(t, 5*time.Second)); perr == nil {
					t.Fatal("Ping succeeded with a CA that did not sign the server")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cipher != ""; got != tc.cipher {
				t.Fatalf("Ssl_cipher = %q; want encrypted = %v", cipher, tc.cipher)
			}
			// Reads work over it.
			st := mustPrepare(t, s, qSingle)
			if _, err := s.Query(ctxT(t, 5*time.Second), st, []any{1}); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("bad config", func(t *testing.T) {
		for _, tl := range []*TLSConfig{
			{Mode: "sometimes"},
			{CAPEM: []byte("not a certificate")},
			{CAPEM: ca.pem, CAFile: caFile},
			{CAFile: filepath.Join(dir, "missing.pem")},
		} {
			cfg := c.config("eu", "eu")
			cfg.Regions[0].TLS = tl
			if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("New with TLS %+v: %v, want ErrInvalidConfig", tl, err)
			}
		}
	})
}
