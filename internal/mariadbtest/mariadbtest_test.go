package mariadbtest

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The driver logs expected i/o errors (kills, blackholes) to stderr.
	// Its logger is global state, so only test code sets it.
	_ = mysql.SetLogger(&mysql.NopLogger{})
	goleak.VerifyTestMain(m)
}

func TestMustFail(t *testing.T) {
	for _, tc := range []struct {
		ci   string
		fail bool
	}{
		{"", false},
		{"false", false},
		{"0", false},
		{"garbage", false},
		{"true", true},
		{"TRUE", true},
		{"1", true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "CI" {
					return tc.ci
				}
				return ""
			}
			if got := mustFail(getenv); got != tc.fail {
				t.Fatalf("mustFail(CI=%q) = %v, want %v", tc.ci, got, tc.fail)
			}
		})
	}
}

func openDB(t *testing.T, s *Server, db string) *sql.DB {
	t.Helper()
	cfg := s.MySQLConfig(db)
	cfg.Timeout = 2 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := sql.OpenDB(conn)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func count(ctx context.Context, db *sql.DB) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n)
	return n, err
}

func setup(t *testing.T, s *Server, rows int) {
	t.Helper()
	stmts := []string{
		"CREATE DATABASE feat",
		"USE feat",
		"CREATE TABLE t (id BIGINT PRIMARY KEY, v DOUBLE)",
	}
	for i := range rows {
		stmts = append(stmts, "INSERT INTO t VALUES ("+itoa(i)+", 1.5)")
	}
	if err := s.Exec(t.Context(), stmts...); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestKillRestart(t *testing.T) {
	servers := Start(t, 2, Options{Proxy: true})
	eu, us := servers[0], servers[1]
	if eu.Port() == us.Port() || eu.ClientAddr() == eu.Addr() {
		t.Fatalf("addresses: eu %s via %s, us %s", eu.Addr(), eu.ClientAddr(), us.Addr())
	}
	for _, s := range servers {
		setup(t, s, 5)
	}
	ctx := t.Context()
	euDB, usDB := openDB(t, eu, "feat"), openDB(t, us, "feat")
	for _, db := range []*sql.DB{euDB, usDB} {
		if n, err := count(ctx, db); err != nil || n != 5 {
			t.Fatalf("count = %d, %v; want 5", n, err)
		}
	}

	// Written just before the crash: must survive it.
	if err := eu.Exec(ctx, "INSERT INTO feat.t VALUES (100, 2.5)"); err != nil {
		t.Fatal(err)
	}
	pid, port := eu.PID(), eu.Port()
	if err := eu.Kill(); err != nil {
		t.Fatal(err)
	}
	if eu.PID() != 0 {
		t.Fatalf("PID after Kill = %d, want 0", eu.PID())
	}
	if _, err := count(ctx, euDB); err == nil {
		t.Fatal("query on a killed server succeeded")
	}
	if n, err := count(ctx, usDB); err != nil || n != 5 {
		t.Fatalf("other server after kill: %d, %v", n, err)
	}

	start := time.Now()
	if err := eu.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart took %v", time.Since(start))
	if eu.Port() != port || eu.PID() == pid || eu.PID() == 0 {
		t.Fatalf("after Restart: port %d (was %d), pid %d (was %d)", eu.Port(), port, eu.PID(), pid)
	}
	// database/sql drops the dead pooled conns (ErrBadConn) and redials
	// through the same proxy.
	if n, err := count(ctx, euDB); err != nil || n != 6 {
		t.Fatalf("after restart: count = %d, %v; want 6", n, err)
	}
}

func TestProxyLatencyAndBlackhole(t *testing.T) {
	s := Start(t, 1, Options{Proxy: true})[0]
	db := openDB(t, s, "")
	db.SetMaxOpenConns(1) // one conn: measure round trips, not dials
	ctx := t.Context()
	ping := func() time.Duration {
		t.Helper()
		start := time.Now()
		var one int
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	median := func() time.Duration {
		var ds []time.Duration
		for range 9 {
			ds = append(ds, ping())
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	base := median()
	const lat = 20 * time.Millisecond
	s.Proxy().SetLatency(lat)
	slow := median()
	t.Logf("SELECT 1 median: direct path %v, with %v proxy latency %v", base, lat, slow)
	if slow < lat || slow > lat+base+30*time.Millisecond {
		t.Fatalf("median with latency = %v, want about %v", slow, lat+base)
	}
	s.Proxy().SetLatency(0)

	s.Proxy().SetBlackhole(true)
	qctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	var one int
	err := db.QueryRowContext(qctx, "SELECT 1").Scan(&one)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blackholed query: err = %v, want context.DeadlineExceeded", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("blackholed query took %v to time out", el)
	}
	s.Proxy().SetBlackhole(false)
	if d := ping(); d > time.Second {
		t.Fatalf("after blackhole: ping %v", d)
	}
}

func TestLaunchFailureShowsLog(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	_, err := Launch(t.Context(), Options{Args: []string{"--no-such-option=1"}, ReadyTimeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "no-such-option") || !strings.HasPrefix(err.Error(), "mariadbtest: ") {
		t.Fatalf("err = %v, want a mariadbtest error quoting err.log", err)
	}
}

func TestStop(t *testing.T) {
	s := Start(t, 1, Options{})[0]
	if err := s.Exec(t.Context(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := os.Stat(s.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dir after Stop: %v", err)
	}
	for name, err := range map[string]error{
		"Exec":    s.Exec(t.Context(), "SELECT 1"),
		"Kill":    s.Kill(),
		"Restart": s.Restart(t.Context()),
	} {
		if !errors.Is(err, ErrStopped) {
			t.Errorf("%s after Stop: %v, want ErrStopped", name, err)
		}
	}
}

func TestCreateUser(t *testing.T) {
	s := Start(t, 1, Options{Args: []string{"--secure-file-priv="}})[0]
	setup(t, s, 2)
	ctx := t.Context()
	if err := s.CreateUser(ctx, "reader", "pw", "SELECT ON feat.*"); err != nil {
		t.Fatal(err)
	}
	c, err := mysql.NewConnector(s.UserConfig("reader", "pw", "feat"))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	if n, err := count(ctx, db); err != nil || n != 2 {
		t.Fatalf("count as reader = %d, %v", n, err)
	}
	var me *mysql.MySQLError
	if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (9, 1)"); !errors.As(err, &me) || me.Number != 1142 {
		t.Fatalf("INSERT as a SELECT-only user: %v, want error 1142", err)
	}
	// MariaDB shows an empty --secure-file-priv (no limit) as NULL.
	var priv sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT @@secure_file_priv").Scan(&priv); err != nil || priv.String != "" {
		t.Fatalf("secure_file_priv = %q, %v; want no limit from Args", priv.String, err)
	}
	for _, bad := range [][2]string{{"a'b", "pw"}, {"", "pw"}, {"ok", "p'w"}, {"ok", `p\w`}} {
		if err := s.CreateUser(ctx, bad[0], bad[1]); err == nil {
			t.Errorf("CreateUser(%q, %q) accepted", bad[0], bad[1])
		}
	}
}
