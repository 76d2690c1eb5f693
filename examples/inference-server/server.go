package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/tandemfs/tandem/examples/tandemtest"
	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/online"
)

// maxBody caps a /predict request body.
const maxBody = 64 << 10

// appConfig is what the server serves and where it reads features from.
type appConfig struct {
	// useSandbox starts an in-process sandbox and reads from it; otherwise
	// endpoints says where the deployment is.
	useSandbox bool
	endpoints  endpoints
	model      *Model
	// view and version name the feature view; empty means the sandbox's
	// demo view (sandbox mode) or the one in endpoints.
	view    string
	version int
	// retry is the least wait between two attempts to load the view.
	retry time.Duration
}

// app is the inference service: a featurestore client, a model and the
// HTTP handlers. Build it with newApp and Close it when done.
type app struct {
	log     *slog.Logger
	model   *Model
	view    string
	version int
	sb      *tandemtest.Sandbox // nil unless in sandbox mode
	client  *featurestore.Client
	mp      *sdkmetric.MeterProvider
	reg     *prometheus.Registry
	handler http.Handler

	fv       atomic.Pointer[featurestore.FeatureView]
	loadErr  atomic.Pointer[error] // why the view is not loaded yet
	fatal    chan error            // a load error retrying cannot fix
	predicts metric.Int64Counter
	latency  metric.Float64Histogram
	scores   metric.Float64Histogram

	ctx    context.Context // the warm-up's; Close cancels it
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// newApp builds the service. It does not wait for the feature store: the
// view's plan is loaded in the background, and /readyz says when it is
// there. A model that does not fit the view is reported on fatal().
func newApp(ctx context.Context, cfg appConfig, log *slog.Logger) (_ *app, err error) {
	a := &app{log: log, model: cfg.model, view: cfg.view, version: cfg.version, fatal: make(chan error, 1)}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	// Metrics: an OpenTelemetry MeterProvider whose reader is the
	// Prometheus exporter, on a registry of our own (no globals). Tandem's
	// metrics come through the same provider.
	a.reg = prometheus.NewRegistry()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(a.reg))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	a.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "tandem-inference-server"))))
	if err := a.instruments(); err != nil {
		return nil, err
	}

	fsCfg := cfg.endpoints.fs
	if cfg.useSandbox {
		a.sb, err = tandemtest.Start(ctx, tandemtest.Options{})
		if err != nil {
			return nil, err
		}
		fsCfg = a.sb.Config()
		if a.view == "" {
			a.view, a.version = tandemtest.FeatureView, tandemtest.FeatureViewVersion
		}
	} else if a.view == "" {
		a.view, a.version = cfg.endpoints.view, cfg.endpoints.version
	}
	if a.view == "" || a.version < 1 {
		return nil, errors.New("no feature view: give -view and -version, or feature_view in the config")
	}
	a.client, err = featurestore.New(fsCfg, featurestore.WithMeterProvider(a.mp), featurestore.WithLogger(log))
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /predict", a.predict)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	a.handler = mux

	retry := cfg.retry
	if retry <= 0 {
		retry = 500 * time.Millisecond
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.wg.Add(1)
	go a.warmUp(retry)
	return a, nil
}

func (a *app) instruments() error {
	m := a.mp.Meter("github.com/tandemfs/tandem/examples/inference-server")
	var err error
	if a.predicts, err = m.Int64Counter("inference.predictions",
		metric.WithDescription("Predictions served, by outcome and serving region.")); err != nil {
		return err
	}
	if a.latency, err = m.Float64Histogram("inference.predict.duration", metric.WithUnit("s"),
		metric.WithDescription("Time to serve /predict, feature lookup included."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1)); err != nil {
		return err
	}
	a.scores, err = m.Float64Histogram("inference.score",
		metric.WithDescription("Scores returned by the model."),
		metric.WithExplicitBucketBoundaries(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9))
	return err
}

// warmUp loads the view's plan, retrying until it succeeds, then checks
// that the model fits the view.
func (a *app) warmUp(retry time.Duration) {
	defer a.wg.Done()
	for {
		lctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
		fv, err := a.client.FeatureView(lctx, a.view, a.version)
		cancel()
		if err == nil {
			if err := a.model.Check(fv.Features()); err != nil {
				a.setLoadErr(err)
				a.fatal <- err
				return
			}
			a.fv.Store(fv)
			a.loadErr.Store(nil)
			a.log.Info("feature view loaded", "view", a.view, "version", a.version, "features", fv.Features())
			return
		}
		a.setLoadErr(err)
		// Retry even a missing view or a refused key: they can be fixed
		// outside (the view created, the key rotated) while we wait.
		a.log.Warn("feature view not loaded yet; retrying", "view", a.view, "version", a.version, "err", err)
		select {
		case <-a.ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

func (a *app) setLoadErr(err error) { a.loadErr.Store(&err) }

// ready reports whether the view's plan and the ACA state are known, and
// describes both.
func (a *app) ready() (bool, map[string]any) {
	body := map[string]any{"feature_view": fmt.Sprintf("%s v%d", a.view, a.version)}
	ok := true
	if a.fv.Load() != nil {
		body["plan"] = "loaded"
	} else {
		ok = false
		body["plan"] = "loading"
		if e := a.loadErr.Load(); e != nil {
			body["plan_error"] = (*e).Error()
		}
	}
	if c := a.client.ACA(); c != nil {
		if st, known := c.Current(); known {
			body["aca"] = map[string]any{"active": st.Active, "secondary": st.Secondary, "staleness": c.Staleness().String()}
		} else {
			ok = false
			body["aca"] = "unknown"
		}
	} else {
		body["aca"] = "not configured (metadata writes are refused)"
	}
	body["ready"] = ok
	return ok, body
}

func (a *app) readyz(w http.ResponseWriter, _ *http.Request) {
	ok, body := a.ready()
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, body)
}

// predictRequest is the body of POST /predict.
type predictRequest struct {
	Entity map[string]any `json:"entity"`
}

// predictResponse is its answer.
type predictResponse struct {
	Score         float64        `json:"score"`
	Model         string         `json:"model"`
	Features      map[string]any `json:"features"`
	Region        string         `json:"region"`
	Hedged        bool           `json:"hedged"`
	MissingGroups []string       `json:"missing_groups,omitempty"`
}

func (a *app) predict(w http.ResponseWriter, r *http.Request) {
	began := time.Now()
	outcome, servedBy := "error", ""
	defer func() {
		attrs := metric.WithAttributes(attribute.String("outcome", outcome), attribute.String("region", servedBy))
		a.predicts.Add(r.Context(), 1, attrs)
		a.latency.Record(r.Context(), time.Since(began).Seconds(), attrs)
	}()
	fail := func(status int, out, msg string) {
		outcome = out
		writeJSON(w, status, map[string]string{"error": msg})
	}

	entity, err := decodeEntity(r.Body)
	if err != nil {
		fail(http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	fv := a.fv.Load()
	if fv == nil {
		fail(http.StatusServiceUnavailable, "not_ready", "not ready: the feature view is not loaded yet (see /readyz)")
		return
	}
	v, err := fv.GetFeatureVector(r.Context(), entity)
	if err != nil {
		var ke *featurestore.KeyError
		switch {
		case errors.As(err, &ke):
			fail(http.StatusBadRequest, "bad_request", err.Error())
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			fail(http.StatusServiceUnavailable, "timeout", "the lookup did not finish: "+err.Error())
		case online.IsRetryable(err):
			fail(http.StatusServiceUnavailable, "unavailable", "no region could serve the lookup; retry")
			a.log.Warn("lookup failed", "err", err)
		default:
			fail(http.StatusInternalServerError, "error", "lookup failed")
			a.log.Error("lookup failed", "err", err)
		}
		return
	}
	servedBy = string(v.Region)
	if !v.Found() {
		fail(http.StatusNotFound, "not_found", "no feature group has a row for this entity")
		return
	}
	features := v.Map()
	score, err := a.model.Score(features)
	if err != nil {
		fail(http.StatusInternalServerError, "error", "the model cannot read this vector: "+err.Error())
		return
	}
	resp := predictResponse{Score: score, Model: a.model.Name, Features: features, Region: servedBy, Hedged: v.Hedged}
	for _, g := range v.Groups {
		if g.Status == featurestore.Missing {
			resp.MissingGroups = append(resp.MissingGroups, g.FeatureGroup)
		}
	}
	outcome = "ok"
	a.scores.Record(r.Context(), score)
	writeJSON(w, http.StatusOK, resp)
}

// decodeEntity reads {"entity": {...}} strictly. Numbers stay exact:
// integers become int64 (a JSON number through float64 would lose digits
// past 2^53), others float64.
func decodeEntity(body io.Reader) (map[string]any, error) {
	dec := json.NewDecoder(io.LimitReader(body, maxBody))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var req predictRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf(`the body must be {"entity": {"<serving key>": <value>, ...}}: %v`, err)
	}
	if len(req.Entity) == 0 {
		return nil, errors.New(`"entity" is missing or empty: give the serving keys, e.g. {"entity": {"cc_num": 100001}}`)
	}
	for k, v := range req.Entity {
		n, ok := v.(json.Number)
		if !ok {
			continue
		}
		if i, err := n.Int64(); err == nil {
			req.Entity[k] = i
		} else if f, err := n.Float64(); err == nil {
			req.Entity[k] = f
		}
	}
	return req.Entity, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Close stops the warm-up, then closes the featurestore client, the
// sandbox and the meter provider. It is idempotent.
func (a *app) Close() {
	a.once.Do(func() {
		if a.cancel != nil {
			a.cancel()
		}
		a.wg.Wait()
		if a.client != nil {
			_ = a.client.Close()
		}
		if a.sb != nil {
			_ = a.sb.Close()
		}
		if a.mp != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = a.mp.Shutdown(ctx)
		}
	})
}
