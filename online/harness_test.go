package online

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"

	"github.com/tandemfs/tandem/internal/mariadbtest"
	"github.com/tandemfs/tandem/internal/testutil"
	"github.com/tandemfs/tandem/region"
)

func TestMain(m *testing.M) {
	// The driver logs lost connections to stderr; the fault tests make
	// plenty on purpose.
	_ = mysql.SetLogger(&mysql.NopLogger{})
	goleak.VerifyTestMain(m)
}

const (
	qSingle = "SELECT `fg0`.`id` AS `id`, `fg0`.`f1` AS `f1`, `fg0`.`f2` AS `f2`, `fg0`.`src` AS `src` FROM `tandem`.`fg_1` AS `fg0` WHERE `fg0`.`id` = ?"
	qTypes  = "SELECT `id`, `f1`, `f2`, `f3`, `f4`, `f5`, `fnull`, `fu` FROM `tandem`.`fg_1` WHERE `id` = ?"
	qBatch  = "SELECT `fg0`.`cc` AS `cc`, `fg0`.`day` AS `day`, `fg0`.`amount` AS `amount` FROM `tandem`.`fg2_1` AS `fg0` WHERE (`fg0`.`cc`, `fg0`.`day`) IN ?"
	qOther  = "SELECT `fg0`.`amount` AS `amount`, `fg0`.`src` AS `src` FROM `tandem`.`fg2_1` AS `fg0` WHERE `fg0`.`cc` = ? AND `fg0`.`day` = ?"
	nRows   = 1000
)

// cluster is n real MariaDB servers, each behind a fault proxy, filled
// with the same rows except for the `src` column, which names the server,
// so a test can tell which server answered each statement.
type cluster struct {
	servers []*mariadbtest.Server
}

func startCluster(t testing.TB, n int) *cluster {
	return startClusterOpts(t, n, mariadbtest.Options{Proxy: true})
}

func startClusterOpts(t testing.TB, n int, opts mariadbtest.Options) *cluster {
	t.Helper()
	srvs := mariadbtest.Start(t, n, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, s := range srvs {
		stmts := []string{
			"CREATE DATABASE tandem",
			"CREATE TABLE tandem.fg_1 (id BIGINT PRIMARY KEY, f1 DOUBLE, f2 VARCHAR(32), f3 VARBINARY(16), f4 DATETIME(3), f5 DECIMAL(10,2), fnull INT NULL, fu BIGINT UNSIGNED, src VARCHAR(8))",
			"CREATE TABLE tandem.fg2_1 (cc BIGINT, day DATE, amount DOUBLE, src VARCHAR(8), PRIMARY KEY (cc, day))",
			"CREATE USER 'nobody'@'%' IDENTIFIED BY 'pw'",
		}
		var b, b2 strings.Builder
		for k := 1; k <= nRows; k++ {
			if k > 1 {
				b.WriteByte(',')
				b2.WriteByte(',')
			}
			fmt.Fprintf(&b, "(%d, %d.5, 'v%d', X'0102', '2026-01-02 03:04:05.678', %d.25, NULL, 18446744073709551615, 's%d')", k, k, k, k, i)
			fmt.Fprintf(&b2, "(%d, '2026-01-%02d', %d.0, 's%d')", k, 1+k%28, k, i)
		}
		stmts = append(stmts, "INSERT INTO tandem.fg_1 VALUES "+b.String(), "INSERT INTO tandem.fg2_1 VALUES "+b2.String())
		if err := s.Exec(ctx, stmts...); err != nil {
			t.Fatal(err)
		}
	}
	return &cluster{servers: srvs}
}

// config builds a Store config: servers[i] goes to regions[i].
func (c *cluster) config(local region.ID, regions ...region.ID) Config {
	cfg := Config{Local: local}
	idx := map[region.ID]int{}
	for i, r := range regions {
		k, ok := idx[r]
		if !ok {
			k = len(cfg.Regions)
			idx[r] = k
			cfg.Regions = append(cfg.Regions, RegionConfig{ID: r})
		}
		cfg.Regions[k].Servers = append(cfg.Regions[k].Servers, ServerConfig{Name: fmt.Sprintf("s%d", i), Addr: c.servers[i].ClientAddr()})
	}
	return cfg
}

func newStore(t testing.TB, cfg Config, opts ...Option) *Store {
	t.Helper()
	s, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func mustPrepare(t testing.TB, s *Store, q string) *Stmt {
	t.Helper()
	st, err := s.Prepare(q)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func ctxT(t testing.TB, d time.Duration) context.Context { return testutil.Context(t, d) }

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, d, what, cond)
}

func serverState(s *Store, name string) region.State {
	for _, ss := range s.Stats().Servers {
		if ss.Name == name {
			return ss.State
		}
	}
	return -1
}
