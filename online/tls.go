package online

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSMode says how a region's connections use TLS. The names follow
// MySQL's --ssl-mode (mysql client manual, "Command Options for Encrypted
// Connections").
type TLSMode string

// The TLS modes.
const (
	// TLSDisabled sends everything in clear text.
	TLSDisabled TLSMode = "disabled"
	// TLSPreferred encrypts when the server offers TLS and falls back to
	// clear text when it does not; the server's certificate is not
	// verified. It protects against a passive listener only.
	TLSPreferred TLSMode = "preferred"
	// TLSRequired encrypts or fails, without verifying the server's
	// certificate.
	TLSRequired TLSMode = "required"
	// TLSVerifyCA encrypts and verifies that the server's certificate is
	// signed by the CA, whatever host name it names.
	TLSVerifyCA TLSMode = "verify-ca"
	// TLSVerifyIdentity encrypts and verifies the certificate's chain and
	// that it names the server (ServerName, or the host of Addr).
	TLSVerifyIdentity TLSMode = "verify-identity"
)

// TLSConfig secures one region's connections. It is passed to
// go-sql-driver as its mysql.Config.TLS. The zero value (and a nil
// *TLSConfig) means no TLS.
type TLSConfig struct {
	// Mode is the TLS mode. Default: TLSDisabled, or TLSVerifyIdentity
	// when a CA is given.
	Mode TLSMode
	// CAPEM holds the PEM certificates of the CAs that sign the servers'
	// certificates; CAFile names a file of them. Give at most one. For
	// TLSVerifyCA and TLSVerifyIdentity: default, the system's roots.
	CAPEM  []byte
	CAFile string
	// ServerName is the name the servers' certificates must carry, for
	// TLSVerifyIdentity. Default: the host of each server's Addr.
	ServerName string
}

var errTLS = errors.New("online: TLS")

// build returns the *tls.Config for a server at host, and whether the
// driver may fall back to clear text. A nil config means no TLS.
func (t *TLSConfig) build(host string) (*tls.Config, bool, error) {
	mode := t.Mode
	if mode == "" {
		mode = TLSDisabled
		if len(t.CAPEM) > 0 || t.CAFile != "" {
			mode = TLSVerifyIdentity
		}
	}
	if len(t.CAPEM) > 0 && t.CAFile != "" {
		return nil, false, fmt.Errorf("%w: give CAPEM or CAFile, not both", errTLS)
	}
	var roots *x509.CertPool
	if len(t.CAPEM) > 0 || t.CAFile != "" {
		pem := t.CAPEM
		if t.CAFile != "" {
			b, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, false, fmt.Errorf("%w: CA file: %w", errTLS, err)
			}
			pem = b
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, false, fmt.Errorf("%w: no PEM certificate in the CA", errTLS)
		}
	}
	switch mode {
	case TLSDisabled:
		return nil, false, nil
	case TLSPreferred:
		return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, true, nil //nolint:gosec // the mode says so
	case TLSRequired:
		return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, false, nil //nolint:gosec // the mode says so
	case TLSVerifyCA:
		// Verify the chain, not the name: the standard library checks
		// both or neither, so the chain is checked here.
		c := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // verified below
		c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, roots)
		}
		return c, false, nil
	case TLSVerifyIdentity:
		name := t.ServerName
		if name == "" {
			name = host
		}
		return &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12}, false, nil
	}
	return nil, false, fmt.Errorf("%w: unknown mode %q; use disabled, preferred, required, verify-ca or verify-identity", errTLS, mode)
}

func verifyChain(raw [][]byte, roots *x509.CertPool) error {
	if len(raw) == 0 {
		return fmt.Errorf("%w: the server sent no certificate", errTLS)
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return fmt.Errorf("%w: server certificate: %w", errTLS, err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
	return err
}
