package featurestore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/tandemfs/tandem/featurestore"
	"github.com/tandemfs/tandem/internal/hopsworkstest"
	"github.com/tandemfs/tandem/internal/mariadbtest"
)

// BenchmarkVector compares one vector over the view's two feature groups
// with the raw driver running the same two prepared statements one after
// the other on the local region (no proxy; the remote region is
// configured but not needed).
//
//	go test -run XXX -bench Vector -benchtime 3s ./featurestore/
func BenchmarkVector(b *testing.B) {
	benchVector(b, newEnvOpts(b, mariadbtest.Options{}))
}

// BenchmarkVectorRTT is BenchmarkVector with 500µs added to every round
// trip to the local region (through its fault proxy, for the raw driver
// too): a network-bound lookup, as across hosts, where the concurrent
// fan-out pays one round trip instead of two.
//
//	go test -run XXX -bench VectorRTT -benchtime 3s ./featurestore/
func BenchmarkVectorRTT(b *testing.B) {
	e := newEnvOpts(b, mariadbtest.Options{Proxy: true})
	e.db["eu"].Proxy().SetLatency(500 * time.Microsecond)
	benchVector(b, e)
}

func benchVector(b *testing.B, e *env) {
	stmts, err := hopsworkstest.Statements(project, fraudView(viewName, 1), false)
	if err != nil {
		b.Fatal(err)
	}
	// DSN points at ClientAddr: through the proxy when there is one.
	raw, err := sql.Open("mysql", e.db["eu"].DSN(""))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxIdleConns(16)
	var prepared []*sql.Stmt
	for _, st := range stmts {
		p, err := raw.Prepare(st.QueryOnline)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		prepared = append(prepared, p)
	}
	ctx := context.Background()
	rawVector := func(aid int) {
		_, cc, tier := account(aid)
		for i, p := range prepared {
			args := []any{aid}
			if i == 1 {
				args = []any{cc, tier}
			}
			rows, err := p.QueryContext(ctx, args...)
			if err != nil {
				b.Fatal(err)
			}
			cols, _ := rows.Columns()
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for j := range vals {
				ptrs[j] = &vals[j]
			}
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					b.Fatal(err)
				}
			}
			rows.Close()
		}
	}
	c := newClient(b, e.config("eu"))
	fv := mustView(b, c, viewName, 1)
	entries := make([]map[string]any, nRows)
	for i := range entries {
		entries[i] = entry(i + 1)
	}
	tandem := func(aid int, opts ...featurestore.VectorOption) {
		if _, err := fv.GetFeatureVector(ctx, entries[aid-1], opts...); err != nil {
			b.Fatal(err)
		}
	}
	for aid := 1; aid <= 300; aid++ { // warm pools and delays
		rawVector(aid)
		tandem(aid)
	}
	b.Run("raw-sequential", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			rawVector(i%nRows + 1)
		}
	})
	b.Run("tandem", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			tandem(i%nRows + 1)
		}
	})
	b.Run("tandem-nohedge", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			tandem(i%nRows+1, featurestore.NoHedge())
		}
	})
	b.Run("tandem-per-statement", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			tandem(i%nRows+1, featurestore.PerStatementHedging())
		}
	})
}

// BenchmarkBatch100 compares a batch of 100 entities with 100 single
// lookups; ns/entity is the figure to compare.
//
//	go test -run XXX -bench Batch100 -benchtime 3s ./featurestore/
func BenchmarkBatch100(b *testing.B) {
	e := newEnvOpts(b, mariadbtest.Options{})
	c := newClient(b, e.config("eu"))
	fv := mustView(b, c, viewName, 1)
	ctx := context.Background()
	batches := make([][]map[string]any, nRows/100)
	for i := range batches {
		for aid := i*100 + 1; aid <= i*100+100; aid++ {
			batches[i] = append(batches[i], entry(aid))
		}
	}
	for i := range batches { // warm
		if _, err := fv.GetFeatureVectors(ctx, batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	perEntity := func(b *testing.B, start time.Time, n int) {
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(n*100), "ns/entity")
	}
	b.Run("batch", func(b *testing.B) {
		b.ReportAllocs()
		start, n := time.Now(), 0
		for i := 0; b.Loop(); i++ {
			if _, err := fv.GetFeatureVectors(ctx, batches[i%len(batches)]); err != nil {
				b.Fatal(err)
			}
			n++
		}
		perEntity(b, start, n)
	})
	b.Run("singles", func(b *testing.B) {
		b.ReportAllocs()
		start, n := time.Now(), 0
		for i := 0; b.Loop(); i++ {
			for _, en := range batches[i%len(batches)] {
				if _, err := fv.GetFeatureVector(ctx, en); err != nil {
					b.Fatal(err)
				}
			}
			n++
		}
		perEntity(b, start, n)
	})
}
