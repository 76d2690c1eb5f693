package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"

	"github.com/tandemfs/tandem/examples/tandemtest"
)

func TestMain(m *testing.M) {
	// The driver logs the connections KillRegion resets.
	_ = mysql.SetLogger(&mysql.NopLogger{})
	goleak.VerifyTestMain(m)
}

// startApp runs the service on the sandbox behind a real HTTP server and
// waits until it is ready.
func startApp(t *testing.T) (*app, string) {
	t.Helper()
	model, err := ParseModel(defaultModel)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := newApp(ctx, appConfig{useSandbox: true, model: model, retry: 20 * time.Millisecond}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	srv := httptest.NewServer(a.handler)
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	waitReady(t, srv.URL)
	return a, srv.URL
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body := get(t, base+"/readyz")
		if status == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 10s: %d %s", status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// byHand scores features with the model's formula, written out again.
func byHand(t *testing.T, m *Model, features map[string]any) float64 {
	t.Helper()
	z := m.Bias
	for name, w := range m.Weights {
		x, ok := features[name].(float64) // JSON numbers decode as float64
		if !ok {
			t.Fatalf("feature %s = %v (%T), want a number", name, features[name], features[name])
		}
		z += w * x
	}
	return 1 / (1 + math.Exp(-z))
}

func TestPredict(t *testing.T) {
	a, base := startApp(t)
	model := a.model

	if status, _ := get(t, base+"/healthz"); status != http.StatusOK {
		t.Errorf("/healthz = %d", status)
	}

	scores := map[float64]bool{}
	for i := range 20 {
		status, body := post(t, base+"/predict", fmt.Sprintf(`{"entity": {"cc_num": %d}}`, tandemtest.FirstKey+int64(i)))
		if status != http.StatusOK {
			t.Fatalf("predict %d: %d %s", i, status, body)
		}
		var resp struct {
			Score    float64        `json:"score"`
			Model    string         `json:"model"`
			Features map[string]any `json:"features"`
			Region   string         `json:"region"`
			Hedged   *bool          `json:"hedged"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatalf("predict %d: %v: %s", i, err, body)
		}
		if want := byHand(t, model, resp.Features); math.Abs(resp.Score-want) > 1e-12 {
			t.Errorf("entity %d: score %v, by hand %v (features %v)", i, resp.Score, want, resp.Features)
		}
		if resp.Features["cc_num"] != float64(tandemtest.FirstKey+int64(i)) {
			t.Errorf("entity %d: features are of cc_num %v", i, resp.Features["cc_num"])
		}
		// eu serves unless a hedge won (a loaded machine can hold the
		// first attempt past the delay); the features always come from
		// the region that served them.
		if resp.Hedged == nil || (resp.Region != "eu" && !*resp.Hedged) || resp.Features["replica"] != resp.Region || resp.Model != model.Name {
			t.Errorf("entity %d: region %q replica %v hedged %v model %q", i, resp.Region, resp.Features["replica"], resp.Hedged, resp.Model)
		}
		scores[resp.Score] = true
	}
	if len(scores) < 10 {
		t.Errorf("only %d distinct scores over 20 entities", len(scores))
	}

	t.Run("not found", func(t *testing.T) {
		status, body := post(t, base+"/predict", `{"entity": {"cc_num": 1}}`)
		if status != http.StatusNotFound {
			t.Errorf("unknown entity: %d %s, want 404", status, body)
		}
	})

	t.Run("eu killed", func(t *testing.T) {
		if err := a.sb.KillRegion(tandemtest.EU); err != nil {
			t.Fatal(err)
		}
		defer a.sb.ReviveRegion(tandemtest.EU)
		status, body := post(t, base+"/predict", `{"entity": {"cc_num": 100005}}`)
		if status != http.StatusOK || !bytes.Contains(body, []byte(`"region":"us"`)) {
			t.Errorf("with eu killed: %d %s, want 200 from us", status, body)
		}
	})
}

func TestPredictBadRequests(t *testing.T) {
	_, base := startApp(t)
	for _, tc := range []struct{ name, body string }{
		{"unknown key", `{"entity": {"card": 100001}}`},
		{"wrong type", `{"entity": {"cc_num": "abc"}}`},
		{"fractional key", `{"entity": {"cc_num": 100001.5}}`},
		{"empty entity", `{"entity": {}}`},
		{"no entity", `{}`},
		{"unknown field", `{"entity": {"cc_num": 100001}, "extra": 1}`},
		{"not JSON", `cc_num=100001`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, base+"/predict", tc.body)
			if status != http.StatusBadRequest {
				t.Errorf("%s: %d %s, want 400", tc.body, status, body)
			}
			var e struct{ Error string }
			if json.Unmarshal(body, &e) != nil || e.Error == "" {
				t.Errorf("body %s has no error message", body)
			}
		})
	}
	if resp, err := http.Get(base + "/predict"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET /predict = %d, want 405", resp.StatusCode)
		}
	}
}

func TestMetrics(t *testing.T) {
	_, base := startApp(t)
	for i := range 5 {
		if status, body := post(t, base+"/predict", fmt.Sprintf(`{"entity": {"cc_num": %d}}`, tandemtest.FirstKey+int64(i))); status != http.StatusOK {
			t.Fatalf("predict: %d %s", status, body)
		}
	}
	post(t, base+"/predict", `{"entity": {"nope": 1}}`)
	status, body := get(t, base+"/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics = %d", status)
	}
	for _, re := range []string{
		`(?m)^tandem_online_duration_seconds_count\{.*\} [1-9]`,
		`(?m)^tandem_featurestore_`,
		`(?m)^tandem_aca_`,
		`(?m)^inference_predictions_total\{.*outcome="bad_request".*\} 1$`,
		`(?m)^inference_predict_duration_seconds_bucket\{`,
		`(?m)^go_goroutines `,
	} {
		if !regexp.MustCompile(re).MatchString(body) {
			t.Errorf("/metrics lacks %s", re)
		}
	}
	// Every ok prediction is counted once, under the region that served it:
	// eu, or us when a hedge won (on a cold pool it can).
	ok := 0
	for _, m := range regexp.MustCompile(`(?m)^inference_predictions_total\{.*outcome="ok".*region="(eu|us)".*\} (\d+)$`).FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(m[2])
		ok += n
	}
	if ok != 5 {
		t.Errorf("/metrics counts %d ok predictions over eu and us, want 5", ok)
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRun runs the command as main does, on the sandbox, and stops it
// as SIGTERM would (by cancelling its context).
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, &out, func(string) string { return "" }) }()

	urlRE := regexp.MustCompile(`url=(http://\S+)`)
	var base string
	// Generous: under -race on a loaded machine the sandbox takes a while.
	deadline := time.Now().Add(60 * time.Second)
	for base == "" {
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening line after 10s:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitReady(t, base)
	if status, body := post(t, base+"/predict", `{"entity": {"cc_num": 100001}}`); status != http.StatusOK {
		t.Errorf("predict: %d %s", status, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop within 15s of the signal")
	}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	var last string
	for sc.Scan() {
		last = sc.Text()
	}
	if !strings.Contains(last, "stopped") {
		t.Errorf("last log line %q, want stopped", last)
	}
}

func TestRunConfig(t *testing.T) {
	noEnv := func(string) string { return "" }
	if err := run(context.Background(), []string{"-sandbox=false"}, io.Discard, noEnv); err == nil {
		t.Error("no sandbox and no config: no error")
	}
	if err := run(context.Background(), []string{"-config", "x.json", "-sandbox"}, io.Discard, noEnv); err == nil {
		t.Error("-config with -sandbox: no error")
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"local": "eu", "regoins": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"-config", bad}, io.Discard, noEnv); err == nil || !strings.Contains(err.Error(), "regoins") {
		t.Errorf("config with a typo: %v, want an unknown-field error", err)
	}

	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`{
		"local": "eu", "project": "fraud",
		"regions": [
			{"id": "eu", "mysql": ["rondb-eu-1:3306", "rondb-eu-2:3306"], "hopsworks_url": "https://eu.example.com/hopsworks-api/api"},
			{"id": "us", "mysql": ["rondb-us-1:3306"], "hopsworks_url": "https://us.example.com/hopsworks-api/api"}
		],
		"aca_endpoints": ["https://aca-1.example.com/", "https://aca-2.example.com/", "https://aca-3.example.com/"],
		"aca_interval": "2s",
		"api_key": "from-file",
		"feature_view": {"name": "fraud_features", "version": 3}
	}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TANDEM_API_KEY": "from-env"}
	e, err := loadConfigFile(good, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	fc := e.fs
	if fc.Local != "eu" || len(fc.Regions) != 2 || len(fc.Regions[0].MySQL) != 2 || fc.ACAInterval != 2*time.Second ||
		fc.APIKey != "from-env" || e.view != "fraud_features" || e.version != 3 || len(fc.ACAEndpoints) != 3 {
		t.Errorf("file config decoded as %v, view %s v%d", fc, e.view, e.version)
	}

	env = map[string]string{
		"TANDEM_REGIONS": "eu,us", "TANDEM_MYSQL_EU": "a:3306, b:3306", "TANDEM_MYSQL_US": "c:3306",
		"TANDEM_HOPSWORKS_URL_EU": "https://eu/hopsworks-api/api", "TANDEM_HOPSWORKS_URL_US": "https://us/hopsworks-api/api",
		"TANDEM_ACA_ENDPOINTS": "https://aca-1/,https://aca-2/", "TANDEM_PROJECT": "fraud", "TANDEM_API_KEY": "k",
		"TANDEM_FEATURE_VIEW": "fraud_features", "TANDEM_FEATURE_VIEW_VERSION": "2",
	}
	e, err = configFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	fc = e.fs
	if fc.Local != "eu" || fc.Regions[0].MySQL[1] != "b:3306" || fc.Regions[1].HopsworksURL != "https://us/hopsworks-api/api" ||
		fc.APIKey != "k" || e.version != 2 || len(fc.ACAEndpoints) != 2 {
		t.Errorf("env config decoded as %v, view %s v%d", fc, e.view, e.version)
	}
}

func TestModel(t *testing.T) {
	m, err := ParseModel(defaultModel)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Check(tandemtest.FeatureNames()); err != nil {
		t.Errorf("the embedded model does not fit the sandbox's view: %v", err)
	}
	if err := m.Check([]string{"cc_num"}); err == nil {
		t.Error("Check against a view without the model's features: no error")
	}
	if _, err := m.Score(map[string]any{"age": "old"}); err == nil {
		t.Error("Score of a string feature: no error")
	}
	if s, err := m.Score(map[string]any{}); err != nil || math.Abs(s-1/(1+math.Exp(-m.Bias))) > 1e-12 {
		t.Errorf("Score of all-missing features = %v, %v; want sigmoid(bias)", s, err)
	}
	for _, bad := range []string{`{}`, `{"weights": {}}`, `{"weights": {"a": 1}, "typo": 1}`, `[`} {
		if _, err := ParseModel([]byte(bad)); err == nil {
			t.Errorf("ParseModel(%s): no error", bad)
		}
	}
}
