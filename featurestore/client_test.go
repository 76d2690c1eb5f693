package featurestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/online"
)

func TestConfigValidation(t *testing.T) {
	ok := featurestore.Config{
		Local: "eu", APIKey: "k", Project: "p", AllowInsecureHTTP: true,
		Regions: []featurestore.RegionConfig{
			{ID: "eu", MySQL: []string{"127.0.0.1:1"}, HopsworksURL: "http://127.0.0.1:1/hopsworks-api/api"},
			{ID: "us", MySQL: []string{"127.0.0.1:2"}, HopsworksURL: "http://127.0.0.1:2/hopsworks-api/api"},
		},
	}
	c, err := featurestore.New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// A region without MySQL servers is discovered on first use
	// (TestCredentialDiscovery): New accepts it and does no I/O.
	noMySQL := ok
	noMySQL.Regions = append([]featurestore.RegionConfig(nil), ok.Regions...)
	noMySQL.Regions[1].MySQL = nil
	if c, err = featurestore.New(noMySQL); err != nil {
		t.Fatalf("no MySQL servers: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*featurestore.Config){
		"no local":        func(c *featurestore.Config) { c.Local = "" },
		"local not given": func(c *featurestore.Config) { c.Local = "ap" },
		"no regions":      func(c *featurestore.Config) { c.Regions = nil },
		"twice":           func(c *featurestore.Config) { c.Regions[1].ID = "EU" },
		"no hopsworks":    func(c *featurestore.Config) { c.Regions[0].HopsworksURL = "" },
		"bad hopsworks":   func(c *featurestore.Config) { c.Regions[0].HopsworksURL = "ftp://x" },
		"no key":          func(c *featurestore.Config) { c.APIKey = "" },
		"negative ttl":    func(c *featurestore.Config) { c.PlanTTL = -1 },
		"bad aca":         func(c *featurestore.Config) { c.ACAEndpoints = []string{"nope"} },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := ok
			cfg.Regions = append([]featurestore.RegionConfig(nil), ok.Regions...)
			mut(&cfg)
			if c, err := featurestore.New(cfg); !errors.Is(err, featurestore.ErrInvalidConfig) {
				if c != nil {
					c.Close()
				}
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	cfg := featurestore.Config{
		Local: "eu", APIKey: "s3cr3t-key", Project: "p", MySQLPassword: "pw-s3cr3t",
		ACAEndpoints: []string{"https://user:aca-s3cr3t@judge.example/"},
		Regions:      []featurestore.RegionConfig{{ID: "eu", MySQL: []string{"h:3306"}, HopsworksURL: "https://eu/hopsworks-api/api"}},
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", cfg)
	for _, s := range []string{cfg.String(), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", cfg), logged.String()} {
		for _, secret := range []string{"s3cr3t-key", "pw-s3cr3t", "aca-s3cr3t"} {
			if strings.Contains(s, secret) {
				t.Fatalf("%q leaks in %s", secret, s)
			}
		}
		if !strings.Contains(s, "REDACTED") {
			t.Fatalf("no redaction marker in %s", s)
		}
	}
}

// TestCloseOnlyWhatItOpened: Close is idempotent, later calls fail with
// ErrClosed, and an injected online store stays open.
func TestCloseOnlyWhatItOpened(t *testing.T) {
	e := newEnv(t)
	cfg := e.config("eu")
	oc := online.Config{Local: "eu", Regions: []online.RegionConfig{
		{ID: "eu", Servers: []online.ServerConfig{{Addr: e.db["eu"].ClientAddr()}}},
		{ID: "us", Servers: []online.ServerConfig{{Addr: e.db["us"].ClientAddr()}}},
	}}
	store, err := online.New(oc)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	c, err := featurestore.New(cfg, featurestore.WithOnline(store))
	if err != nil {
		t.Fatal(err)
	}
	fv := mustView(t, c, viewName, 1)
	if _, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(1)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(1)); !errors.Is(err, featurestore.ErrClosed) {
		t.Fatalf("vector after Close: %v", err)
	}
	if _, err := fv.GetFeatureVectors(ctxT(t, 5*time.Second), nil); !errors.Is(err, featurestore.ErrClosed) {
		t.Fatalf("batch after Close: %v", err)
	}
	if _, err := c.FeatureView(ctxT(t, 5*time.Second), viewName, 1); !errors.Is(err, featurestore.ErrClosed) {
		t.Fatalf("FeatureView after Close: %v", err)
	}
	if _, err := c.CreateFeatureView(ctxT(t, 5*time.Second), spec("x")); !errors.Is(err, featurestore.ErrClosed) {
		t.Fatalf("create after Close: %v", err)
	}
	if err := store.Ping(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("the injected store was closed: %v", err)
	}
}

// TestTelemetryAndVectorCache: spans carry tandem.* attributes and error
// status; counters count lookups, missing entities and cache hits and
// misses; cached vectors are copies.
func TestTelemetryAndVectorCache(t *testing.T) {
	e := newEnv(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	reader := metric.NewManualReader()
	mp := metric.NewMeterProvider(metric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	cfg := e.config("eu")
	cfg.VectorCache.TTL = time.Minute
	// The second lookup gives the composite key by its plain column names.
	c := newClient(t, cfg, featurestore.WithTracerProvider(tp), featurestore.WithMeterProvider(mp), featurestore.WithKeyAliases())
	fv := mustView(t, c, viewName, 1)

	v1, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(8))
	if err != nil {
		t.Fatal(err)
	}
	v1.Values[0] = "scribbled" // the caller owns its vector
	v2, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), map[string]any{"aid": int32(8), "cc": "SE", "tier": 2.0})
	if err != nil {
		t.Fatal(err)
	}
	if !v2.Cached {
		t.Fatal("second lookup of the same key was not cached")
	}
	checkVector(t, v2, 8, "eu")
	if v, _ := fv.GetFeatureVector(ctxT(t, 5*time.Second), entry(8), featurestore.Pin("eu")); v.Cached {
		t.Fatal("a pinned lookup used the cache")
	}
	if _, err := fv.GetFeatureVectors(ctxT(t, 5*time.Second), []map[string]any{entry(1), entry(3), {"aid": nRows + 1, "cc": "SE", "tier": 0}}); err != nil {
		t.Fatal(err)
	}
	if _, err := fv.GetFeatureVector(ctxT(t, 5*time.Second), map[string]any{"bad": 1}); err == nil {
		t.Fatal("no error")
	}

	if got := counter(t, reader, "tandem.featurestore.cache"); got != 2 {
		t.Fatalf("cache lookups %d, want 2 (a miss and a hit)", got)
	}
	if got := counter(t, reader, "tandem.featurestore.lookups"); got != 5 {
		t.Fatalf("lookups %d, want 5", got)
	}
	if got := counter(t, reader, "tandem.featurestore.entities"); got != 7 {
		t.Fatalf("entities %d, want 7", got)
	}
	if got := counter(t, reader, "tandem.featurestore.entities.missing"); got != 2 {
		t.Fatalf("missing %d, want 2 (aid 3 is FR, aid %d does not exist)", got, nRows+1)
	}
	if got := counter(t, reader, "tandem.featurestore.plan.loads"); got != 1 {
		t.Fatalf("plan loads %d", got)
	}

	var single, batch, failed int
	for _, s := range rec.Ended() {
		attrs := attribute.NewSet(s.Attributes()...)
		switch s.Name() {
		case "featurestore.GetFeatureVector":
			if s.Status().Code == codes.Error {
				failed++
				if v, _ := attrs.Value("error.type"); v.AsString() != "serving_key" {
					t.Fatalf("error.type %v", v)
				}
				continue
			}
			single++
			// A hedge may win from us on a cold pool (see checkVector).
			hedged, _ := attrs.Value("tandem.hedged")
			if v, _ := attrs.Value("tandem.region"); v.AsString() != "eu" && !hedged.AsBool() {
				t.Fatalf("span region %v, unhedged", v)
			}
		case "featurestore.GetFeatureVectors":
			batch++
			if v, _ := attrs.Value("tandem.entities.missing"); v.AsInt64() != 2 {
				t.Fatalf("span missing %v", v)
			}
		default:
			continue
		}
		if v, _ := attrs.Value("tandem.feature_view"); v.AsString() != viewName {
			t.Fatalf("span %s view %v", s.Name(), v)
		}
	}
	if single != 3 || batch != 1 || failed != 1 {
		t.Fatalf("spans: %d single, %d batch, %d failed", single, batch, failed)
	}
}
