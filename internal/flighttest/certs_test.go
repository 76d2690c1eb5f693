package flighttest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var testCerts = Certificates{KeyStore: []byte("jks key store"), TrustStore: []byte("jks trust store"), Password: "pw"}

func certsJSON(c Certificates) []byte {
	b, _ := json.Marshal(map[string]string{
		"kstore":   base64.StdEncoding.EncodeToString(c.KeyStore),
		"tstore":   base64.StdEncoding.EncodeToString(c.TrustStore),
		"cert_key": c.Password,
	})
	return b
}

// startPaths starts a server with one training dataset and returns a new
// client connection to it each time dial is called.
func startPaths(t *testing.T, cfg Config) (s *Server, dial func() flight.Client) {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	if err := s.AddTrainingDataset("td/x_1", schema, []arrow.RecordBatch{rec}); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	return s, func() flight.Client {
		c, err := flight.NewClientWithMiddleware(s.Addr(), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
}

// readPath reads td/x_1, sending hdr (if not nil) with DoGet only.
func readPath(ctx context.Context, c flight.Client, hdr []byte) (int, error) {
	info, err := c.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"td/x_1"}})
	if err != nil {
		return 0, err
	}
	if hdr != nil {
		ctx = metadata.AppendToOutgoingContext(ctx, CertificatesHeader, string(hdr))
	}
	stream, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		return 0, err
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		return 0, err
	}
	defer rdr.Release()
	n := 0
	for rdr.Next() {
		n += int(rdr.RecordBatch().NumRows())
	}
	return n, rdr.Err()
}

func actionTypes(ctx context.Context, t *testing.T, c flight.Client) []string {
	t.Helper()
	st, err := c.ListActions(ctx, &flight.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		a, err := st.Recv()
		if err != nil {
			break
		}
		out = append(out, a.GetType())
	}
	return out
}

func TestSignatureIsCheckedOnDoGetNotGetFlightInfo(t *testing.T) {
	signer := NewSigner([]byte("k"))
	_, c := start(t, signer.Verify)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	q := []byte(`{"featureView":"fv","version":1}`)
	// hsfs's _get_flight_info sends no header: it must pass.
	info, err := c.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: q})
	if err != nil {
		t.Fatalf("GetFlightInfo without a signature: %v", err)
	}
	for _, tc := range []struct {
		name string
		sig  string
		code codes.Code
	}{
		{"no signature", "", codes.Unauthenticated},
		{"wrong signature", signer.Sign([]byte("other")), codes.PermissionDenied},
		{"signature", signer.Sign(q), codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctx
			if tc.sig != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, SignatureHeader, tc.sig)
			}
			stream, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
			if err == nil {
				var rdr *flight.Reader
				if rdr, err = flight.NewRecordReader(stream); err == nil {
					for rdr.Next() {
					}
					err = rdr.Err()
					rdr.Release()
				}
			}
			if status.Code(err) != tc.code {
				t.Fatalf("DoGet: %v, want %v", err, tc.code)
			}
		})
	}
}

func TestPathReadsNeedCertificates(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	good := certsJSON(testCerts)
	check := func(c Certificates) error {
		if !c.Equal(testCerts) {
			return errors.New("not the project's")
		}
		return nil
	}

	t.Run("header when the service has a version", func(t *testing.T) {
		s, dial := startPaths(t, Config{Version: "4.2.0", CheckCertificates: check})
		c := dial()
		if got := strings.Join(actionTypes(ctx, t, c), ","); !strings.Contains(got, ActionGetVersion) {
			t.Errorf("actions %s lack %s", got, ActionGetVersion)
		}
		res, err := c.DoAction(ctx, &flight.Action{Type: ActionGetVersion})
		if err != nil {
			t.Fatal(err)
		}
		r, err := res.Recv()
		if err != nil || string(r.GetBody()) != "4.2.0" {
			t.Errorf("get-version = %q, %v", r.GetBody(), err)
		}
		for _, tc := range []struct {
			name string
			hdr  []byte
			code codes.Code
		}{
			{"none", nil, codes.Unauthenticated},
			{"garbage", []byte(`{"kstore":`), codes.InvalidArgument},
			{"missing key", []byte(`{"kstore":"AA==","tstore":"AA=="}`), codes.InvalidArgument},
			{"not base64", []byte(`{"kstore":"!","tstore":"AA==","cert_key":"x"}`), codes.InvalidArgument},
			{"another project's", certsJSON(Certificates{KeyStore: []byte("k"), TrustStore: []byte("t"), Password: "p"}), codes.PermissionDenied},
			{"the project's", good, codes.OK},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n, err := readPath(ctx, c, tc.hdr)
				if status.Code(err) != tc.code {
					t.Fatalf("read: %v, want %v", err, tc.code)
				}
				if tc.code == codes.OK && n != 3 {
					t.Errorf("%d rows, want 3", n)
				}
			})
		}
		for _, r := range s.Requests() {
			if r.Method == MethodDoGet && r.Ticket != "path" {
				t.Errorf("DoGet ticket kind %q", r.Ticket)
			}
		}
	})

	t.Run("registration when it has none", func(t *testing.T) {
		s, dial := startPaths(t, Config{CheckCertificates: check})
		c := dial()
		if got := actionTypes(ctx, t, c); strings.Contains(strings.Join(got, ","), ActionGetVersion) {
			t.Errorf("actions %v list %s without a version", got, ActionGetVersion)
		}
		_, err := readPath(ctx, c, good) // a header does not count here
		if st, _ := status.FromError(err); st.Code() != codes.Unknown || !strings.Contains(st.Message(), RegisterFirstMessage) {
			t.Fatalf("unregistered read: %v, want Unknown %q", err, RegisterFirstMessage)
		}
		register := func(c flight.Client, body []byte) error {
			st, err := c.DoAction(ctx, &flight.Action{Type: ActionRegisterCertificates, Body: body})
			if err != nil {
				return err
			}
			return flight.ReadUntilEOF(st)
		}
		if err := register(c, []byte(`{}`)); status.Code(err) != codes.InvalidArgument {
			t.Errorf("register {}: %v", err)
		}
		if err := register(c, certsJSON(Certificates{KeyStore: []byte("k"), TrustStore: []byte("t")})); status.Code(err) != codes.PermissionDenied {
			t.Errorf("register another project's: %v", err)
		}
		if err := register(c, good); err != nil {
			t.Fatal(err)
		}
		if n, err := readPath(ctx, c, nil); err != nil || n != 3 {
			t.Fatalf("registered read: %d rows, %v", n, err)
		}
		// Registration is per connection.
		if _, err := readPath(ctx, dial(), nil); status.Code(err) != codes.Unknown {
			t.Errorf("read on another connection: %v, want Unknown", err)
		}
		s.ForgetRegistrations()
		if _, err := readPath(ctx, c, nil); status.Code(err) != codes.Unknown {
			t.Errorf("read after a restart: %v, want Unknown", err)
		}
		res, err := c.DoAction(ctx, &flight.Action{Type: ActionGetVersion})
		if err == nil {
			_, err = res.Recv()
		}
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("get-version without a version: %v, want Unimplemented", err)
		}
	})
}

func TestParseCertificates(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{string(certsJSON(testCerts)), true},
		{`{"kstore":"AA==","tstore":"AA==","cert_key":"","extra":1}`, true},
		{`{"kstore":"AA==","tstore":"AA==","cert_key":1}`, false},
		{`{"kstore":"","tstore":"AA==","cert_key":"x"}`, false},
		{`{"kstore":"AA==","tstore":"AA==","cert_key":"x"} {}`, false},
		{`[]`, false},
		{``, false},
		{`{"kstore":"AA==","tstore":"AA==","cert_key":"x"` + strings.Repeat(" ", MaxCertificatesBytes) + `}`, false},
	} {
		c, err := ParseCertificates([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("ParseCertificates(%.60q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
		if tc.ok && len(c.KeyStore) == 0 {
			t.Errorf("ParseCertificates(%.60q): empty key store", tc.in)
		}
	}
	if c, _ := ParseCertificates(certsJSON(testCerts)); !c.Equal(testCerts) {
		t.Errorf("round trip: %+v", c)
	}
}

func FuzzParseCertificates(f *testing.F) {
	f.Add(certsJSON(testCerts))
	f.Add([]byte(`{"kstore":"AA==","tstore":"AA==","cert_key":"x"}`))
	f.Add([]byte(`{"kstore":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCertificates(b)
		if err != nil {
			return
		}
		if len(c.KeyStore) == 0 || len(c.TrustStore) == 0 {
			t.Fatalf("accepted empty stores: %q", b)
		}
		again, err := ParseCertificates(certsJSON(c))
		if err != nil || !again.Equal(c) {
			t.Fatalf("round trip of %q: %v", b, err)
		}
	})
}
