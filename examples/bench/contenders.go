package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/online"
	"github.com/tandemfs/tandem/region"
)

// outcome is what one operation (a vector, a batch, 100 lookups) tells
// the harness besides its latency.
type outcome struct {
	// src names the server each statement's rows came from (the rows'
	// `src` column), so every contender is checked the same way.
	src      [2]string
	hedged   bool
	attempts int
}

// contender is one client under test. Every contender gets the same
// closed-loop load and the same per-request timeout.
type contender interface {
	name() string
	// vector reads the feature vector of one entity: one row of each of
	// the two feature groups.
	vector(ctx context.Context, id int64) (outcome, error)
	// batch reads the feature vectors of several entities at once.
	batch(ctx context.Context, ids []int64) (outcome, error)
	close()
}

var errMissing = errors.New("bench: row missing")

// sqlClient is go-sql-driver/mysql with prepared statements, the way a
// plain Go service reads: against one address (eu's server, or HAProxy).
// A vector is the two statements one after the other, or concurrently
// with concurrent set.
type sqlClient struct {
	label      string
	db         *sql.DB
	s1, s2     *sql.Stmt
	b1, b2     *sql.Stmt
	concurrent bool
}

func newSQLClient(label, addr string, workers, batch int, timeout time.Duration, concurrent bool) (*sqlClient, error) {
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = addr
	cfg.DBName = dbName
	// The same bounds Tandem's attempts have: a dial, and each read and
	// write on the socket.
	cfg.Timeout = timeout
	cfg.ReadTimeout = timeout
	cfg.WriteTimeout = timeout
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	// No cap on open connections (database/sql's default), but enough
	// idle ones that a closed loop of `workers` never re-dials.
	db.SetMaxIdleConns(2*workers + 2)
	c := &sqlClient{label: label, db: db, concurrent: concurrent}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&c.s1, qFG1}, {&c.s2, qFG2},
		{&c.b1, expandIn(qFG1Batch, batch)}, {&c.b2, expandIn(qFG2Batch, batch)},
	} {
		if *p.dst, err = db.PrepareContext(ctx, p.q); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: prepare: %w", label, err)
		}
	}
	return c, nil
}

// expandIn turns the batch form's "IN ?" into n bound placeholders, as
// a plain client would.
func expandIn(q string, n int) string {
	return strings.Replace(q, "IN ?", "IN ("+strings.TrimSuffix(strings.Repeat("?,", n), ",")+")", 1)
}

func (c *sqlClient) name() string { return c.label }

func (c *sqlClient) close() { _ = c.db.Close() }

func (c *sqlClient) vector(ctx context.Context, id int64) (outcome, error) {
	var o outcome
	var e1, e2 error
	if c.concurrent {
		var wg sync.WaitGroup
		wg.Go(func() { o.src[1], e2 = scanFG2(ctx, c.s2, id) })
		o.src[0], e1 = scanFG1(ctx, c.s1, id)
		wg.Wait()
	} else {
		if o.src[0], e1 = scanFG1(ctx, c.s1, id); e1 == nil {
			o.src[1], e2 = scanFG2(ctx, c.s2, id)
		}
	}
	o.attempts = 1
	return o, errors.Join(e1, e2)
}

func scanFG1(ctx context.Context, st *sql.Stmt, id int64) (string, error) {
	var (
		gotID, f3 int64
		f1, f2    float64
		f4, src   string
	)
	err := st.QueryRowContext(ctx, id).Scan(&gotID, &f1, &f2, &f3, &f4, &src)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errMissing
	}
	return src, err
}

func scanFG2(ctx context.Context, st *sql.Stmt, id int64) (string, error) {
	var (
		gotID, g2 int64
		g1, g4    float64
		g3, src   string
	)
	err := st.QueryRowContext(ctx, id).Scan(&gotID, &g1, &g2, &g3, &g4, &src)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errMissing
	}
	return src, err
}

func (c *sqlClient) batch(ctx context.Context, ids []int64) (outcome, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	var o outcome
	o.attempts = 1
	for k, st := range []*sql.Stmt{c.b1, c.b2} {
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return o, err
		}
		n := 0
		for rows.Next() {
			var (
				id, i2      int64
				d1, d2      float64
				s3, src     string
				cols        = []any{&id, &d1, &d2, &i2, &s3, &src}
				fg2ColOrder = []any{&id, &d1, &i2, &s3, &d2, &src}
			)
			if k == 1 {
				cols = fg2ColOrder
			}
			if err := rows.Scan(cols...); err != nil {
				rows.Close()
				return o, err
			}
			o.src[k] = src
			n++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return o, err
		}
		if n != len(ids) {
			return o, fmt.Errorf("%w: %d of %d rows", errMissing, n, len(ids))
		}
	}
	return o, nil
}

// tandemClient is Tandem's lookup path: one online.Store over both
// regions, a vector being one QueryGroup of the two statements (one
// server per vector, hedged together).
type tandemClient struct {
	st     *online.Store
	s1, s2 *online.Stmt
	b1, b2 *online.Stmt
}

// tandemConfig is the default adaptive configuration: eu is local, every
// server of the cluster in its region.
func tandemConfig(nodes []*node) online.Config {
	cfg := online.Config{Local: "eu", Database: dbName}
	idx := map[string]int{}
	for _, n := range nodes {
		k, ok := idx[n.region]
		if !ok {
			k = len(cfg.Regions)
			idx[n.region] = k
			cfg.Regions = append(cfg.Regions, online.RegionConfig{ID: region.ID(n.region)})
		}
		cfg.Regions[k].Servers = append(cfg.Regions[k].Servers, online.ServerConfig{Name: n.name, Addr: n.addr()})
	}
	return cfg
}

func newTandemClient(nodes []*node) (*tandemClient, error) {
	st, err := online.New(tandemConfig(nodes))
	if err != nil {
		return nil, err
	}
	c := &tandemClient{st: st}
	for _, p := range []struct {
		dst **online.Stmt
		q   string
	}{{&c.s1, qFG1}, {&c.s2, qFG2}, {&c.b1, qFG1Batch}, {&c.b2, qFG2Batch}} {
		if *p.dst, err = st.Prepare(p.q); err != nil {
			st.Close()
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := st.Ping(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return c, nil
}

func (c *tandemClient) name() string { return "tandem" }
func (c *tandemClient) close()       { _ = c.st.Close() }

func (c *tandemClient) vector(ctx context.Context, id int64) (outcome, error) {
	res, err := c.st.QueryGroup(ctx, []online.Call{{Stmt: c.s1, Args: []any{id}}, {Stmt: c.s2, Args: []any{id}}})
	if err != nil {
		return outcome{}, err
	}
	o := outcome{hedged: res.Hedged, attempts: res.Attempts}
	for k, r := range res.Rows {
		if len(r.Values) != 1 {
			return o, errMissing
		}
		o.src[k], _ = r.Values[0][5].(string)
	}
	return o, nil
}

func (c *tandemClient) batch(ctx context.Context, ids []int64) (outcome, error) {
	keys := make([][]any, len(ids))
	for i, id := range ids {
		keys[i] = []any{id}
	}
	c1, err := c.b1.Batch(keys)
	if err != nil {
		return outcome{}, err
	}
	c2, err := c.b2.Batch(keys)
	if err != nil {
		return outcome{}, err
	}
	res, err := c.st.QueryGroup(ctx, append(c1, c2...))
	if err != nil {
		return outcome{}, err
	}
	o := outcome{hedged: res.Hedged, attempts: res.Attempts}
	n := [2]int{}
	for k, r := range res.Rows {
		g := 0
		if k >= len(c1) {
			g = 1
		}
		n[g] += len(r.Values)
		if len(r.Values) > 0 {
			o.src[g], _ = r.Values[0][5].(string)
		}
	}
	if n[0] != len(ids) || n[1] != len(ids) {
		return o, fmt.Errorf("%w: %v of %d rows", errMissing, n, len(ids))
	}
	return o, nil
}
