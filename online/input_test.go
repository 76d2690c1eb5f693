package online

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBadInput(t *testing.T) {
	// No server is needed: every check happens before any I/O.
	cfg := Config{Local: "eu", Regions: []RegionConfig{
		{ID: "eu", Servers: []ServerConfig{{Addr: "127.0.0.1:1"}}},
		{ID: "us", Servers: []ServerConfig{{Addr: "127.0.0.1:2"}}},
	}}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range []string{
		"UPDATE t SET a = 1",
		"DELETE FROM t",
		"SELECT 1; DROP TABLE t",
		"SELECT * FROM t FOR UPDATE",
		"SELECT a INTO @x FROM t",
		"SELECT * FROM t LOCK IN SHARE MODE",
		"/*! DROP TABLE t */ SELECT 1",
		"SELECT 'unterminated",
		"",
		"WITH x AS (SELECT 1) DELETE FROM t",
	} {
		if _, err := s.Prepare(q); !errors.Is(err, ErrInvalidStatement) {
			t.Errorf("Prepare(%q) = %v, want ErrInvalidStatement", q, err)
		}
	}
	// By default only the shapes Hopsworks generates (sqlcheck_test.go).
	for _, q := range []string{
		qSingle, qBatch, qOther,
		"select `fg0`.`a;b` as `x` from `d`.`t` as `fg0` where `fg0`.`b` = ?",
	} {
		if _, err := s.Prepare(q); err != nil {
			t.Errorf("Prepare(%q) = %v, want ok", q, err)
		}
	}
	st, err := s.Prepare(qOther) // two placeholders
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Query(ctx, st, []any{1}); !errors.Is(err, ErrArgCount) {
		t.Errorf("one arg for two: %v", err)
	}
	if _, err := s.Query(ctx, st, []any{1, 2}, Pin("ap")); !errors.Is(err, ErrUnknownRegion) {
		t.Errorf("unknown region: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	start := time.Now()
	if _, err := s.Query(cctx, st, []any{1, 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Error("a cancelled ctx must return at once")
	}
	for name, bad := range map[string]Config{
		"empty topology": {Local: "eu"},
		"no local":       {Local: "eu", Regions: []RegionConfig{{ID: "us", Servers: []ServerConfig{{Addr: "x:1"}}}}},
		"no addr":        {Local: "eu", Regions: []RegionConfig{{ID: "eu", Servers: []ServerConfig{{Name: "a"}}}}},
		"no servers":     {Local: "eu", Regions: []RegionConfig{{ID: "eu"}}},
		"bad region":     {Local: "eu", Regions: []RegionConfig{{ID: "", Servers: []ServerConfig{{Addr: "x:1"}}}}},
		"ceiling<floor":  {Local: "eu", Regions: cfg.Regions, Hedge: HedgeConfig{Floor: time.Second, Ceiling: time.Millisecond}},
	} {
		if _, err := New(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Query(ctx, st, []any{1, 2}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, err := s.Prepare("SELECT 1"); !errors.Is(err, ErrClosed) {
		t.Errorf("Prepare after Close: %v", err)
	}
}

func TestExpandIn(t *testing.T) {
	for _, tc := range []struct{ q, want string }{
		{"SELECT a FROM t WHERE (`x`, `y`) IN ?", "SELECT a FROM t WHERE (`x`, `y`) IN ((?,?),(?,?),(?,?))"},
		{"SELECT a FROM t WHERE `x` IN ? ORDER BY a", "SELECT a FROM t WHERE `x` IN (?,?,?) ORDER BY a"},
		{"SELECT a FROM t WHERE (`x`) IN ?", "SELECT a FROM t WHERE (`x`) IN (?,?,?)"},
	} {
		info, err := checkAnySelect(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := expandIn(tc.q, info, 3); got != tc.want {
			t.Errorf("expandIn(%q) = %q, want %q", tc.q, got, tc.want)
		}
	}
}

func FuzzCheckSelect(f *testing.F) {
	for _, s := range []string{
		qSingle, qBatch, qOther, "SELECT 1", "SELECT 'a''b' FROM t WHERE x IN ?", "/* c */ SELECT ?",
		"SELECT `a``b` FROM t -- x", "SELECT \"a\\\"b\" FROM t", "SELECT (a, (b)) IN ? FROM t",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		info, err := checkAnySelect(q)
		if err != nil {
			if !errors.Is(err, ErrInvalidStatement) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if info.inAt >= 0 {
			if info.inAt >= len(q) || q[info.inAt] != '?' {
				t.Fatalf("inAt %d does not point at a placeholder in %q", info.inAt, q)
			}
			x := expandIn(q, info, 2)
			xi, err := checkAnySelect(x)
			if err != nil {
				t.Fatalf("expansion %q of valid %q is invalid: %v", x, q, err)
			}
			if xi.params != info.params-1+2*info.tupleWidth {
				t.Fatalf("expansion has %d params, want %d", xi.params, info.params-1+2*info.tupleWidth)
			}
		}
	})
}
