package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"

	"github.com/tandemfs/tandem/examples/tandemtest"
	"github.com/tandemfs/tandem/internal/testutil"
)

func TestMain(m *testing.M) {
	_ = mysql.SetLogger(&mysql.NopLogger{})
	goleak.VerifyTestMain(m)
}

// startSB starts a small sandbox that the test closes.
func startSB(t *testing.T, rows int) *tandemtest.Sandbox {
	t.Helper()
	sb, err := tandemtest.Start(testutil.Context(t, 30*time.Second), tandemtest.Options{Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	return sb
}

// result is one run of the command.
type result struct {
	code           int
	stdout, stderr string
}

// tandem runs the command on sb (nil: the default, a sandbox of its own)
// with the environment vars.
func tandem(t *testing.T, sb *tandemtest.Sandbox, vars map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	e := env{stdout: &out, stderr: &errOut, getenv: func(k string) string { return vars[k] }, sandbox: startSandbox}
	if sb != nil {
		e.sandbox = func(context.Context) (*tandemtest.Sandbox, bool, error) { return sb, false, nil }
	}
	code := run(testutil.Context(t, 2*time.Minute), args, e)
	return result{code, out.String(), errOut.String()}
}

// must checks the exit status and that stdout matches every pattern.
func (r result) must(t *testing.T, code int, patterns ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
		return
	}
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(r.stdout) {
			t.Errorf("stdout does not match %q:\n%s", p, r.stdout)
		}
	}
}

// TestVectorDefaultSandbox runs vector as a user would, with no config:
// it starts a sandbox of its own.
func TestVectorDefaultSandbox(t *testing.T) {
	tandem(t, nil, nil, "vector", "cc_num=100001").must(t, exitOK,
		`(?m)^fraud_features v1  \{"cc_num":100001\}$`,
		`(?m)^region (eu|us)  hedged (yes|no)  latency [0-9.]+ms`,
		`(?m)^  tx_count_24h +1$`,
		`(?m)^  replica +"(eu|us)"$`,
		`groups: card_activity_1 present \((eu|us)\), profiles_1 present`)
}

func TestVector(t *testing.T) {
	sb := startSB(t, 20)
	t.Run("json, pinned to us", func(t *testing.T) {
		r := tandem(t, sb, nil, "vector", "-json", "-region", "us", `{"cc_num": 100002}`)
		r.must(t, exitOK)
		var got vectorJSON
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("%v in %s", err, r.stdout)
		}
		if got.Region != "us" || got.Hedged || !got.Found || got.Features["cc_num"] != float64(100002) ||
			got.Features["replica"] != "us" || len(got.Groups) != 2 || got.LatencyMS <= 0 {
			t.Errorf("vector %+v", got)
		}
	})
	t.Run("no row", func(t *testing.T) {
		tandem(t, sb, nil, "vector", "-no-hedge", "cc_num=5").must(t, exitOK,
			"no feature group has a row for this entity", `(?m)^  age +NULL$`, "card_activity_1 missing")
	})
	t.Run("unknown serving key", func(t *testing.T) {
		r := tandem(t, sb, nil, "vector", "card=1")
		r.must(t, exitError)
		if !strings.Contains(r.stderr, "tandem vector:") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
}

// TestDiff plants differences in one region and finds them, over a
// sample read in batches and one entity at a time.
func TestDiff(t *testing.T) {
	sb := startSB(t, 40)
	ctx := testutil.Context(t, 30*time.Second)
	key := func(i int) int64 { return tandemtest.FirstKey + int64(i) }
	if err := sb.SetFeature(ctx, tandemtest.US, key(3), "tx_count_24h", 99); err != nil {
		t.Fatal(err)
	}
	if err := sb.SetFeature(ctx, tandemtest.EU, key(10), "credit_limit", 1.5); err != nil {
		t.Fatal(err)
	}
	if err := sb.DeleteEntity(ctx, tandemtest.US, key(20)); err != nil {
		t.Fatal(err)
	}

	t.Run("sample in batches", func(t *testing.T) {
		r := tandem(t, sb, nil, "diff", "-sample", "40", "-batch", "16", "-fail-on-diff", "-progress", "1ns")
		t.Logf("stdout:\n%s", r.stdout)
		r.must(t, exitDiff,
			`40 entities in 3 batch\(es\) of up to 16, read from eu, us`,
			`not compared: replica`,
			`differing entities: 3 of 40 \(7\.50%\)`,
			`(?m)^  tx_count_24h +1$`, `(?m)^  credit_limit +1$`,
			`(?m)^  card_activity_1 row +1$`, `(?m)^  profiles_1 row +1$`,
			`(?m)^  eu-us +3$`,
			`\{"cc_num":100004\}  tx_count_24h eu=\d+ us=99`,
			`\{"cc_num":100021\}  card_activity_1 row eu=present us=missing`)
		if !strings.Contains(r.stderr, "diff: 16/40 entities") || !strings.Contains(r.stderr, "diff: 40/40 entities, 3 differ") {
			t.Errorf("no progress on stderr: %q", r.stderr)
		}
	})
	t.Run("without -fail-on-diff", func(t *testing.T) {
		tandem(t, sb, nil, "diff", "-sample", "40").must(t, exitOK, `differing entities: 3 of 40`)
	})
	t.Run("ignored feature", func(t *testing.T) {
		tandem(t, sb, nil, "diff", "-sample", "40", "-ignore", "replica,tx_count_24h").must(t, exitOK,
			`differing entities: 2 of 40`, `not compared: replica, tx_count_24h`)
	})
	t.Run("replica compared when asked", func(t *testing.T) {
		tandem(t, sb, nil, "diff", "-sample", "40", "-ignore", "").must(t, exitOK, `(?m)^  replica +39$`)
	})
	t.Run("one entity", func(t *testing.T) {
		r := tandem(t, sb, nil, "diff", "-fail-on-diff", "cc_num=100004")
		t.Logf("stdout:\n%s", r.stdout)
		r.must(t, exitDiff,
			`(?m)^  feature +eu +us`,
			`(?m)^  tx_count_24h +\d+ +99 +DIFFERS$`,
			`(?m)^  replica +"eu" +"us" +\(ignored\)$`,
			`1 feature\(s\) differ`)
	})
	t.Run("one entity that agrees", func(t *testing.T) {
		tandem(t, sb, nil, "diff", "-fail-on-diff", `{"cc_num": 100001}`).must(t, exitOK, "the regions agree")
	})
	t.Run("entries file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "entries.txt")
		body := "# three entities\n{\"cc_num\": 100001}\ncc_num=100004\n\ncc_num=100002\n"
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		tandem(t, sb, nil, "diff", "-entries", f, "-batch", "2").must(t, exitOK,
			`3 entities in 2 batch\(es\)`, `differing entities: 1 of 3`)
		tandem(t, sb, nil, "diff", "-entries", f, "-sample", "2").must(t, exitOK, `2 entities in 1 batch`)
	})
}

func TestStatus(t *testing.T) {
	sb := startSB(t, 10)
	tandem(t, sb, nil, "status", "-reads", "5").must(t, exitOK,
		`ACA endpoints \(3, polled directly\)`,
		`(?m)^  http://127\.0\.0\.1:\d+/  +active=eu secondary=us  +[0-9.]+ms$`,
		`quorum \(2 of 3\): active=eu secondary=us, confirmed [^ ]+ ago`,
		`after 5 lookups of \{"cc_num":100001\} per region`,
		`(?m)^  eu +eu-1 +healthy +[0-9.]+ms +[0-9.]+ms +[0-9.]+ms +\d+ +\d+$`,
		`(?m)^  us +us-1 +healthy +[0-9.]+ms`,
		`hedge budget left`)

	if _, err := sb.FlipACA(); err != nil {
		t.Fatal(err)
	}
	if err := sb.KillRegion(tandemtest.US); err != nil {
		t.Fatal(err)
	}
	tandem(t, sb, nil, "status", "-reads", "3", "-entry", "cc_num=100002").must(t, exitOK,
		`(?m)^  http://.*active=us secondary=eu`,
		`quorum \(2 of 3\): active=us secondary=eu`,
		`lookups failed in us: `)
}

// TestPollEndpoints: each endpoint's own answer, whatever it is.
func TestPollEndpoints(t *testing.T) {
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"active": "us", "secondary": "eu", "epoch": 7}`)
	}))
	defer good.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "<html>") }))
	defer html.Close()
	redirect := httptest.NewServer(http.RedirectHandler(good.URL, http.StatusFound))
	defer redirect.Close()
	withCreds := strings.Replace(good.URL, "http://", "http://user:secret@", 1) + "/?token=secret"

	got := pollEndpoints(testutil.Context(t, 10*time.Second), []string{good.URL, down.URL, html.URL, redirect.URL, withCreds}, 2*time.Second)
	want := []string{"active=us epoch=7", "HTTP 503", "invalid state", "HTTP 302", "active=us epoch=7"}
	for i, a := range got {
		s := fmt.Sprint(a.err)
		if a.err == nil {
			s = fmt.Sprintf("active=%s%s", a.state.Active, epoch(a.state))
		}
		if !strings.Contains(s, want[i]) {
			t.Errorf("endpoint %d: %s, want %q", i, s, want[i])
		}
		if strings.Contains(a.url, "secret") {
			t.Errorf("endpoint %d shown as %q, with its credentials", i, a.url)
		}
	}
}

// TestDeploymentConfig reads the sandbox as a real deployment, through
// the inference server's config file and TANDEM_* variables: no sandbox
// is started.
func TestDeploymentConfig(t *testing.T) {
	sb := startSB(t, 10)
	cfg := sb.Config()
	noSandbox := func(context.Context) (*tandemtest.Sandbox, bool, error) {
		t.Error("a sandbox was started although a deployment is configured")
		return nil, false, fmt.Errorf("no sandbox")
	}
	runWith := func(vars map[string]string, args ...string) result {
		var out, errOut bytes.Buffer
		code := run(testutil.Context(t, time.Minute), args,
			env{stdout: &out, stderr: &errOut, getenv: func(k string) string { return vars[k] }, sandbox: noSandbox})
		return result{code, out.String(), errOut.String()}
	}

	file := map[string]any{
		"local": "eu", "project": cfg.Project, "aca_endpoints": cfg.ACAEndpoints, "allow_insecure_http": true,
		"feature_view": map[string]any{"name": tandemtest.FeatureView, "version": tandemtest.FeatureViewVersion},
		"regions": []map[string]any{
			{"id": "eu", "mysql": cfg.Regions[0].MySQL, "hopsworks_url": cfg.Regions[0].HopsworksURL},
			{"id": "us", "mysql": cfg.Regions[1].MySQL, "hopsworks_url": cfg.Regions[1].HopsworksURL},
		},
	}
	b, err := json.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tandem.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	key := map[string]string{"TANDEM_API_KEY": sb.APIKey()}
	runWith(key, "vector", "-config", path, "-region", "eu", "cc_num=100003").must(t, exitOK, `(?m)^  replica +"eu"$`)
	// A deployment cannot be listed: -sample needs -entries.
	if r := runWith(key, "diff", "-config", path, "-sample", "5"); r.code != exitError || !strings.Contains(r.stderr, "-entries") {
		t.Errorf("diff -sample on a deployment: %+v", r)
	}

	vars := map[string]string{
		"TANDEM_REGIONS": "eu,us", "TANDEM_PROJECT": cfg.Project, "TANDEM_API_KEY": sb.APIKey(),
		"TANDEM_MYSQL_EU": cfg.Regions[0].MySQL[0], "TANDEM_MYSQL_US": cfg.Regions[1].MySQL[0],
		"TANDEM_HOPSWORKS_URL_EU": cfg.Regions[0].HopsworksURL, "TANDEM_HOPSWORKS_URL_US": cfg.Regions[1].HopsworksURL,
		"TANDEM_ACA_ENDPOINTS": strings.Join(cfg.ACAEndpoints, ","), "TANDEM_ALLOW_INSECURE_HTTP": "true",
		"TANDEM_FEATURE_VIEW": tandemtest.FeatureView,
	}
	runWith(vars, "status", "-reads", "2", "-entry", `{"cc_num": 100001}`).must(t, exitOK, `quorum \(2 of 3\): active=eu`, `(?m)^  us +us-1 `)
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stderr, or stdout for help
	}{
		{"no command", nil, exitError, "usage: tandem <command>"},
		{"unknown command", []string{"vectors"}, exitError, `unknown command "vectors"`},
		{"help", []string{"help"}, exitOK, "commands:"},
		{"command help", []string{"diff", "-h"}, exitOK, "-fail-on-diff"},
		{"bad flag", []string{"vector", "-nope", "a=1"}, exitError, "flag provided but not defined"},
		{"vector without entry", []string{"vector"}, exitError, "no entry"},
		{"vector, not k=v", []string{"vector", "cc_num"}, exitError, "is not k=v"},
		{"vector, bad JSON", []string{"vector", `{"cc_num": [1]}`}, exitError, "must be a number or a string"},
		{"diff, nothing to compare", []string{"diff"}, exitError, "nothing to compare"},
		{"diff, both", []string{"diff", "-sample", "3", "a=1"}, exitError, "not both"},
		{"diff, bad batch", []string{"diff", "-batch", "0", "-sample", "3"}, exitError, "-batch"},
		{"status, argument", []string{"status", "x"}, exitError, "no arguments"},
		{"config and sandbox", []string{"vector", "-config", "x.json", "-sandbox", "a=1"}, exitError, "exclude each other"},
		{"config missing", []string{"vector", "-config", "/nonexistent/x.json", "a=1"}, exitError, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			e := env{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" },
				sandbox: func(context.Context) (*tandemtest.Sandbox, bool, error) {
					return nil, false, fmt.Errorf("a usage error must not start a sandbox")
				}}
			code := run(testutil.Context(t, 10*time.Second), tc.args, e)
			text := errOut.String() + out.String()
			if code != tc.code || !strings.Contains(text, tc.want) {
				t.Errorf("exit %d, output %q; want %d and %q", code, text, tc.code, tc.want)
			}
		})
	}
}

func TestParseEntry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		words []string
		want  map[string]any
		err   bool
	}{
		{"k=v int", []string{"cc_num=100001"}, map[string]any{"cc_num": int64(100001)}, false},
		{"k=v several", []string{"a=1.5", "b=gold", `c="42"`}, map[string]any{"a": 1.5, "b": "gold", "c": "42"}, false},
		{"k=v with = in value", []string{"a=x=y"}, map[string]any{"a": "x=y"}, false},
		{"json", []string{`{"cc_num": 100001, "tier": "gold", "r": 0.5}`}, map[string]any{"cc_num": int64(100001), "tier": "gold", "r": 0.5}, false},
		{"json big int stays exact", []string{`{"id": 9007199254740993}`}, map[string]any{"id": int64(9007199254740993)}, false},
		{"duplicate", []string{"a=1", "a=2"}, nil, true},
		{"empty key", []string{"=1"}, nil, true},
		{"no =", []string{"a"}, nil, true},
		{"empty json", []string{`{}`}, nil, true},
		{"json array value", []string{`{"a": [1]}`}, nil, true},
		{"json null value", []string{`{"a": null}`}, nil, true},
		{"two json values", []string{`{"a": 1} {"b": 2}`}, nil, true},
		{"json too big", []string{`{"a": 1e999}`}, nil, true},
		{"nothing", nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseEntry(tc.words)
			if (err != nil) != tc.err {
				t.Fatalf("parseEntry(%q) error %v, want error %v", tc.words, err, tc.err)
			}
			if !tc.err && fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tc.want) {
				t.Errorf("parseEntry(%q) = %#v, want %#v", tc.words, got, tc.want)
			}
		})
	}
}

// FuzzParseEntry: an entry comes from the command line or a file; no
// input may panic, and an accepted entry is non-empty and holds only
// scalars.
func FuzzParseEntry(f *testing.F) {
	for _, s := range []string{`{"cc_num": 100001}`, "cc_num=100001", "a=1 b=x", `{"a": {"b": 1}}`, "=", `{`, `{"a":1e400}`, "a=\"x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words := strings.Fields(s)
		if strings.HasPrefix(strings.TrimSpace(s), "{") {
			words = []string{s}
		}
		e, err := parseEntry(words)
		if err != nil {
			return
		}
		if len(e) == 0 {
			t.Fatal("accepted an empty entry")
		}
		for k, v := range e {
			switch v.(type) {
			case int64, float64, string, bool:
			default:
				t.Fatalf("%q: %T is not a scalar", k, v)
			}
		}
	})
}
