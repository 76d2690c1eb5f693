package main

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// hedgeClient is the straightforward per-read hedger the issue measured
// Tandem against: each statement of a vector goes to the first server,
// and to the second if the first has not answered after a fixed delay
// (or failed); the first answer wins. The two statements are hedged
// independently, so one vector may mix regions. Losers are not cancelled:
// they finish under their socket timeouts and keep their connections.
type hedgeClient struct {
	a, b  *sqlClient
	delay time.Duration
}

func newHedgeClient(first, second string, workers, batch int, timeout, delay time.Duration) (*hedgeClient, error) {
	a, err := newSQLClient("hedge-3ms", first, workers, batch, timeout, false)
	if err != nil {
		return nil, err
	}
	b, err := newSQLClient("hedge-3ms", second, workers, batch, timeout, false)
	if err != nil {
		a.close()
		return nil, err
	}
	return &hedgeClient{a: a, b: b, delay: delay}, nil
}

func (c *hedgeClient) name() string { return "hedge-3ms" }

func (c *hedgeClient) close() { c.a.close(); c.b.close() }

type scanned struct {
	src string
	err error
	b   bool // served by the second server
}

// hedged runs one statement on a, then on b after the delay or a's
// error, and returns the first success.
func (c *hedgeClient) hedged(ctx context.Context, sa, sb *sql.Stmt, scan func(context.Context, *sql.Stmt, int64) (string, error), id int64) (scanned, bool, error) {
	ch := make(chan scanned, 2)
	actx := context.WithoutCancel(ctx) // losers finish and keep their connections
	go func() { s, err := scan(actx, sa, id); ch <- scanned{s, err, false} }()
	t := time.NewTimer(c.delay)
	defer t.Stop()
	launched, pending := 1, 1
	startB := func() {
		launched++
		pending++
		go func() { s, err := scan(actx, sb, id); ch <- scanned{s, err, true} }()
	}
	var errs []error
	for {
		select {
		case <-ctx.Done():
			return scanned{}, launched > 1, ctx.Err()
		case <-t.C:
			if launched == 1 {
				startB()
			}
		case r := <-ch:
			pending--
			if r.err == nil || errors.Is(r.err, errMissing) {
				return r, launched > 1, r.err
			}
			errs = append(errs, r.err)
			if launched == 1 {
				startB()
			} else if pending == 0 {
				return scanned{}, true, errors.Join(errs...)
			}
		}
	}
}

func (c *hedgeClient) vector(ctx context.Context, id int64) (outcome, error) {
	var o outcome
	type res struct {
		s      scanned
		hedged bool
		err    error
	}
	r2 := make(chan res, 1)
	go func() {
		s, h, err := c.hedged(ctx, c.a.s2, c.b.s2, scanFG2, id)
		r2 <- res{s, h, err}
	}()
	s1, h1, e1 := c.hedged(ctx, c.a.s1, c.b.s1, scanFG1, id)
	x := <-r2
	o.src = [2]string{s1.src, x.s.src}
	o.hedged = h1 || x.hedged
	o.attempts = 1 // as the other contenders count a vector, plus hedges
	if h1 {
		o.attempts++
	}
	if x.hedged {
		o.attempts++
	}
	return o, errors.Join(e1, x.err)
}

// batch is not hedged: S5 compares batches with single lookups.
func (c *hedgeClient) batch(ctx context.Context, ids []int64) (outcome, error) {
	return c.a.batch(ctx, ids)
}
