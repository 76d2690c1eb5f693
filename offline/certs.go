package offline

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// CertificatesHeader is the gRPC metadata key that carries the project's
// certificates JSON with the DoGet of a training-dataset read, on a query
// service that answers get-version (hsfs _certificates_headers).
const CertificatesHeader = "x-certificates-json"

// The query service's actions this client uses, as hsfs names them
// (python/hsfs/core/arrow_flight_client.py in logicalclocks/hopsworks-api).
const (
	actionHealthcheck          = "healthcheck"
	actionGetVersion           = "get-version"
	actionRegisterCertificates = "register-client-certificates"
)

// registerFirst is the text of the error (a FlightServerError, gRPC
// Unknown) with which a query service that does not answer get-version
// refuses a caller that has not registered its certificates; hsfs
// (_handle_afs_exception) then registers and tries once more.
const registerFirst = "Please register client certificates first."

// maxVersionBytes caps the get-version answer this client keeps.
const maxVersionBytes = 256

// certificatesJSON encodes the stores as hsfs does (_certificates,
// _make_certificates_json): {"kstore": base64, "tstore": base64,
// "cert_key": password}. Like Python's json.dumps the result is ASCII
// only, so it can travel as a gRPC header value.
func certificatesJSON(keyStore, trustStore []byte, password string) []byte {
	b, err := json.Marshal(struct {
		KStore  string `json:"kstore"`
		TStore  string `json:"tstore"`
		CertKey string `json:"cert_key"`
	}{base64.StdEncoding.EncodeToString(keyStore), base64.StdEncoding.EncodeToString(trustStore), password})
	if err != nil {
		panic("offline: marshal of strings failed: " + err.Error()) // cannot happen
	}
	return asciiJSON(b)
}

// asciiJSON escapes every byte of valid JSON b outside printable ASCII
// (what json.Marshal leaves: non-ASCII runes and DEL) as \uXXXX, with
// surrogate pairs above the BMP. Such bytes occur only inside strings, where
// the escape means the same rune.
func asciiJSON(b []byte) []byte {
	var sb strings.Builder
	for len(b) > 0 {
		c := b[0]
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
			b = b[1:]
			continue
		}
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		if r >= 0x10000 {
			r -= 0x10000
			fmt.Fprintf(&sb, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			continue
		}
		fmt.Fprintf(&sb, `\u%04x`, r)
	}
	return []byte(sb.String())
}

// parseVersion reads the body of get-version's first result: hsfs keeps
// it as bytes and only logs it, and what matters is that an answer came.
// Tandem keeps it for its debug log, as trimmed printable text of at
// most 256 bytes; anything else is replaced by "unknown".
func parseVersion(body []byte) string {
	v := strings.TrimSpace(string(body))
	if len(v) > maxVersionBytes || !utf8.ValidString(v) {
		return "unknown"
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return "unknown"
		}
	}
	if v == "" {
		return "unknown"
	}
	return v
}

// certMode is how a region's query service wants the certificates of a
// training-dataset read.
type certMode int

const (
	certsUnknown  certMode = iota // not asked yet
	certsHeader                   // it answered get-version: x-certificates-json on DoGet
	certsRegister                 // it did not: register-client-certificates once per connection
)

// prepareCerts makes sure rc's query service can take a training-dataset
// read with this client's certificates, as hsfs does when it starts
// (__init__): list the actions; if get-version is among them, ask it and
// send the certificates with each DoGet from then on; else register them
// with register-client-certificates. force registers again (the service
// asked for it). The answer is kept for the connection's life.
func (c *Client) prepareCerts(ctx context.Context, rc *regionConn, force bool) error {
	if rc.certs == nil {
		return nil
	}
	rc.certMu.Lock()
	defer rc.certMu.Unlock()
	if rc.mode == certsHeader || (rc.mode == certsRegister && !force) {
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.HealthcheckTimeout)
	defer cancel()
	if rc.mode == certsUnknown {
		hasVersion, err := listsAction(actx, rc.fc, actionGetVersion)
		if err != nil {
			return fmt.Errorf("ListActions: %w", err)
		}
		if hasVersion {
			v, ok, err := getVersion(actx, rc.fc)
			if err != nil {
				return fmt.Errorf("%s: %w", actionGetVersion, err)
			}
			if ok {
				rc.mode = certsHeader
				c.log.DebugContext(ctx, "offline: query service answers get-version; certificates go in a header", "tandem.region", string(rc.region), "version", v)
				return nil
			}
		}
	}
	st, err := rc.fc.DoAction(actx, &flight.Action{Type: actionRegisterCertificates, Body: rc.certs})
	if err == nil {
		err = flight.ReadUntilEOF(st)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", actionRegisterCertificates, err)
	}
	rc.mode = certsRegister
	c.log.DebugContext(ctx, "offline: client certificates registered", "tandem.region", string(rc.region))
	return nil
}

func listsAction(ctx context.Context, fc flight.Client, name string) (bool, error) {
	st, err := fc.ListActions(ctx, &flight.Empty{})
	if err != nil {
		return false, err
	}
	found := false
	for {
		a, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return found, nil
		}
		if err != nil {
			return false, err
		}
		found = found || a.GetType() == name
	}
}

// getVersion returns the first result of get-version; ok is false when
// there is none, which hsfs treats as a service without a version.
func getVersion(ctx context.Context, fc flight.Client) (v string, ok bool, err error) {
	st, err := fc.DoAction(ctx, &flight.Action{Type: actionGetVersion})
	if err != nil {
		return "", false, err
	}
	r, err := st.Recv()
	if errors.Is(err, io.EOF) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	// Drain the rest, so the stream ends cleanly.
	if err := flight.ReadUntilEOF(st); err != nil {
		return "", false, err
	}
	return parseVersion(r.GetBody()), true, nil
}

// needsRegistration reports whether err is the query service asking for
// the certificates to be registered first.
func needsRegistration(err error) bool {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return false
	}
	st := se.GRPCStatus()
	return st.Code() == codes.Unknown && strings.Contains(st.Message(), registerFirst)
}
