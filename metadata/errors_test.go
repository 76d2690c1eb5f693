package metadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tandemfs/tandem/internal/hopsworkstest"
)

func TestTypedErrors(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 4096)
	for _, tc := range []struct {
		name      string
		setup     func(e *env)
		want      error
		status    int
		code      int
		retryable bool
	}{
		{"404 unknown view", func(e *env) {}, ErrNotFound, 404, hopsworkstest.CodeFeatureViewNotFound, false},
		{"401 expired key", func(e *env) { e.eu.SetKeyExpired(true) }, ErrUnauthorized, 401, hopsworkstest.CodeKeyNotInDatabase, false},
		{"403", func(e *env) { e.eu.FailPath("", "/featureview/", 403, 0, "forbidden") }, ErrUnauthorized, 403, 0, false},
		{"270009 invalid query", func(e *env) { e.store.InvalidateFeatureView("fraud", 1) }, ErrInvalidQuery, 404, 270009, false},
		{"500 both regions", func(e *env) {
			e.eu.FailPath("", "/featureview/", 500, 0, "NullPointerException")
			e.us.FailPath("", "/featureview/", 500, 0, "NullPointerException")
		}, ErrServer, 500, 0, true},
		{"malformed", func(e *env) { e.eu.RespondRaw("", "/featureview/", 200, []byte(`{"name": "fraud", "version": `)) }, ErrMalformed, 0, 0, false},
		{"wrong shape", func(e *env) { e.eu.RespondRaw("", "/featureview/", 200, []byte(`{"name": 7}`)) }, ErrMalformed, 0, 0, false},
		{"oversized", func(e *env) { e.eu.RespondRaw("", "/featureview/", 200, big) }, ErrBodyTooLarge, 0, 0, false},
		{"html 502 both regions", func(e *env) {
			e.eu.RespondRaw("", "/featureview/", 502, []byte("<html>bad gateway</html>"))
			e.us.RespondRaw("", "/featureview/", 502, []byte("<html>bad gateway</html>"))
		}, ErrServer, 502, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.config("eu")
			cfg.MaxBodyBytes = 2048
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := ctxT(t)
			if tc.name != "401 expired key" {
				if _, err := c.FeatureStore(ctx); err != nil {
					t.Fatal(err)
				}
			}
			tc.setup(e)
			name := "fraud"
			if tc.want == ErrNotFound {
				name = "missing_view"
			}
			_, err = c.FeatureView(ctx, name, 1)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if got := IsRetryable(err); got != tc.retryable {
				t.Fatalf("IsRetryable = %v, want %v (%v)", got, tc.retryable, err)
			}
			if !strings.HasPrefix(err.Error(), "metadata: ") {
				t.Fatalf("error not prefixed: %q", err)
			}
			var ae *APIError
			if tc.status != 0 {
				if !errors.As(err, &ae) || ae.Status != tc.status || ae.Code != tc.code {
					t.Fatalf("APIError = %+v, want status %d code %d", ae, tc.status, tc.code)
				}
			}
			var re *RegionError
			if tc.status == 0 && (!errors.As(err, &re) || re.Region != "eu") {
				t.Fatalf("want a *RegionError for eu, got %#v", err)
			}
		})
	}
}

func TestContextCancelled(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, "us")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.FeatureView(ctx, "fraud", 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// Cancelled mid-request on a hanging region: no fallback, prompt return.
	if _, err := c.FeatureStore(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	e.us.SetFault(hopsworkstest.FaultHang)
	e.eu.ResetRequests()
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.FeatureView(ctx, "fraud", 1)
	if !errors.Is(err, context.DeadlineExceeded) || IsRetryable(err) {
		t.Fatalf("err = %v, want the caller's DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("returned after %s", d)
	}
	if n := len(e.eu.Requests()); n != 0 {
		t.Fatalf("fell back after the caller's deadline: %d requests to eu", n)
	}
}

func TestClose(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, "eu")
	ctx := ctxT(t)
	if _, err := c.FeatureView(ctx, "fraud", 1); err != nil {
		t.Fatal(err)
	}
	// Close releases a call hanging in flight.
	e.eu.SetFault(hopsworkstest.FaultHang)
	done := make(chan error, 1)
	go func() { _, err := c.PreparedStatements(ctx, "fraud", 1, true); done <- err }()
	eventually(t, 5*time.Second, func() bool { return len(e.eu.Requests()) >= 2 })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("in-flight call: err = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release the call in flight")
	}
	calls := map[string]func() error{
		"Project":           func() error { _, err := c.Project(ctx); return err },
		"ProjectID":         func() error { _, err := c.ProjectID(ctx); return err },
		"FeatureStore":      func() error { _, err := c.FeatureStore(ctx); return err },
		"FeatureView":       func() error { _, err := c.FeatureView(ctx, "fraud", 1); return err },
		"Statements":        func() error { _, err := c.PreparedStatements(ctx, "fraud", 1, false); return err },
		"BatchQuery":        func() error { _, err := c.BatchQuery(ctx, "fraud", 1, time.Time{}, time.Time{}); return err },
		"BatchQueryIn":      func() error { _, err := c.BatchQueryIn(ctx, "eu", "fraud", 1, time.Time{}, time.Time{}); return err },
		"CreateFeatureView": func() error { _, err := c.CreateFeatureView(ctx, specFor("x", 1)); return err },
		"DeleteFeatureView": func() error { return c.DeleteFeatureView(ctx, "fraud", 1) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
		}
	}
}

// TestAPIKeyNeverLeaks drives every failure mode with a debug logger, a span
// recorder and a metric reader, and greps them all for the key.
func TestAPIKeyNeverLeaks(t *testing.T) {
	e := newEnv(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	cfg := e.config("us")
	cfg.Timeout = 300 * time.Millisecond
	c, err := New(cfg, WithActiveSource(e.aca), WithLogger(logger), WithTracerProvider(tp), WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	_, err = c.FeatureView(ctx, "fraud", 1)
	collect(err)
	e.us.SetFault(hopsworkstest.FaultReset)
	_, err = c.FeatureView(ctx, "fraud", 1) // falls back, logs
	collect(err)
	e.eu.SetFault(hopsworkstest.FaultUnavailable)
	_, err = c.FeatureView(ctx, "fraud", 1)
	collect(err)
	e.eu.SetFault(hopsworkstest.FaultNone)
	e.us.SetFault(hopsworkstest.FaultNone)
	e.eu.SetActive(false)
	_, err = c.CreateFeatureView(ctx, specFor("leak", 1)) // refused as read-only, logs a warning
	collect(err)
	e.eu.SetKeyExpired(true)
	e.us.SetKeyExpired(true)
	_, err = c.FeatureView(ctx, "fraud", 1)
	collect(err)
	// A server that echoes the Authorization header in its error body must
	// not get the key into our error: the fake does not echo, so simulate.
	e.us.SetKeyExpired(false)
	e.us.FailPath("", "/preparedstatement", 500, 0, "bad header ApiKey "+"<redacted by server>")
	_, err = c.PreparedStatements(ctx, "fraud", 1, false)
	collect(err)
	_, err = New(Config{Local: "eu", APIKey: testKey})
	collect(err)

	if len(errs) < 4 {
		t.Fatalf("only %d errors collected", len(errs))
	}
	var everything strings.Builder
	for _, err := range errs {
		fmt.Fprintf(&everything, "%v\n%+v\n%#v\n", err, err, err)
	}
	everything.WriteString(logs.String())
	for _, s := range rec.Ended() {
		everything.WriteString(s.Name() + s.Status().Description)
		for _, a := range s.Attributes() {
			everything.WriteString(string(a.Key) + "=" + a.Value.String() + "\n")
		}
		for _, ev := range s.Events() {
			everything.WriteString(ev.Name)
			for _, a := range ev.Attributes {
				everything.WriteString(a.Value.String())
			}
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	everything.WriteString(fmt.Sprintf("%+v", rm))
	fmt.Fprintf(&everything, "%v %+v %#v %s", cfg, cfg, cfg, cfg.String())
	logger.Info("config", "cfg", cfg)
	everything.WriteString(logs.String())

	if strings.Contains(everything.String(), testKey) {
		t.Fatalf("the API key leaked:\n%s", everything.String())
	}
	if !strings.Contains(logs.String(), "falling back") || !strings.Contains(logs.String(), "[REDACTED]") {
		t.Fatalf("expected logs missing:\n%s", logs.String())
	}
	if len(rec.Ended()) == 0 {
		t.Fatal("no spans recorded")
	}
}

func TestTelemetry(t *testing.T) {
	e := newEnv(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c := e.client(t, "us", WithTracerProvider(tp), WithMeterProvider(mp))
	ctx := ctxT(t)
	if _, err := c.FeatureStore(ctx); err != nil {
		t.Fatal(err)
	}
	e.us.SetFault(hopsworkstest.FaultUnavailable)
	if _, err := c.FeatureView(ctx, "fraud", 1); err != nil {
		t.Fatal(err)
	}
	var sawFailed, sawOK bool
	for _, s := range rec.Ended() {
		if s.Name() != "metadata GetFeatureView" {
			continue
		}
		attrs := attribute.NewSet(s.Attributes()...)
		r, _ := attrs.Value("tandem.region")
		st, _ := attrs.Value("http.response.status_code")
		m, _ := attrs.Value("http.request.method")
		if m.AsString() != http.MethodGet {
			t.Fatalf("method attribute = %v", m)
		}
		switch r.AsString() {
		case "us":
			et, _ := attrs.Value("error.type")
			sawFailed = st.AsInt64() == 503 && et.AsString() == "server"
		case "eu":
			sawOK = st.AsInt64() == 200
		}
	}
	if !sawFailed || !sawOK {
		t.Fatalf("spans: failed us %v, ok eu %v", sawFailed, sawOK)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range sum.DataPoints {
					got[m.Name] += dp.Value
				}
			}
		}
	}
	if got["tandem.metadata.fallbacks"] != 1 || got["tandem.metadata.requests"] < 4 {
		t.Fatalf("metrics = %v", got)
	}
}
