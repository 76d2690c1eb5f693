package online

import (
	"context"
	"database/sql"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/internal/mariadbtest"
)

// BenchmarkPointLookup compares the raw driver's prepared statement with
// Store.Query on the same healthy server (no proxy), with the same
// statement. The remote region is configured but never needed.
func BenchmarkPointLookup(b *testing.B) {
	c := startClusterOpts(b, 2, mariadbtest.Options{})
	raw, err := sql.Open("mysql", c.servers[0].DSN(""))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxIdleConns(16)
	rawStmt, err := raw.Prepare(qSingle)
	if err != nil {
		b.Fatal(err)
	}
	defer rawStmt.Close()
	mc := c.servers[0].MySQLConfig("")
	mc.ReadTimeout, mc.WriteTimeout = 2e9, 2e9
	connTO, err := mysql.NewConnector(mc)
	if err != nil {
		b.Fatal(err)
	}
	rawTO := sql.OpenDB(connTO)
	defer rawTO.Close()
	rawTOStmt, err := rawTO.Prepare(qSingle)
	if err != nil {
		b.Fatal(err)
	}
	defer rawTOStmt.Close()
	s := newStore(b, c.config("eu", "eu", "us"))
	st := mustPrepare(b, s, qSingle)
	ctx := context.Background()
	rawLookup := func(k int) {
		rows, err := rawStmt.QueryContext(ctx, k)
		if err != nil {
			b.Fatal(err)
		}
		var id int64
		var f1 float64
		var f2, src string
		for rows.Next() {
			if err := rows.Scan(&id, &f1, &f2, &src); err != nil {
				b.Fatal(err)
			}
		}
		rows.Close()
	}
	storeLookup := func(k int) {
		if _, err := s.Query(ctx, st, []any{k}); err != nil {
			b.Fatal(err)
		}
	}
	for range 200 { // warm both pools and the adaptive delay
		rawLookup(1)
		storeLookup(1)
	}
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			rawLookup(i%nRows + 1)
		}
	})
	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			storeLookup(i%nRows + 1)
		}
	})
	b.Run("raw-sockettimeouts", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			rows, err := rawTOStmt.QueryContext(ctx, i%nRows+1)
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
			}
			rows.Close()
		}
	})
	b.Run("store-nohedge", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.Query(ctx, st, []any{i%nRows + 1}, NoHedge()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				rawLookup(i%nRows + 1)
			}
		})
	})
	b.Run("store-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				storeLookup(i%nRows + 1)
			}
		})
	})
}
