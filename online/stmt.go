package online

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
)

// Stmt is a validated, read-only statement. It is prepared lazily on each
// server the first time it runs there, and the prepared statement is kept
// for the Store's life. Get one with [Store.Prepare]; it is safe for
// concurrent use and owned by its Store (Close closes it).
type Stmt struct {
	store *Store
	query string
	info  stmtInfo

	prepared []atomic.Pointer[sql.Stmt] // by server index
	plan     atomic.Pointer[decodePlan]

	batchMu sync.Mutex
	batch   map[int]*Stmt // expansions of "IN ?" by key count
}

// Prepare validates query and returns its statement. It does no I/O: the
// statement is prepared on a server the first time it runs there. The same
// text returns the same *Stmt.
//
// Only a single read-only SELECT is accepted (no second statement, no
// SELECT … INTO, no locking read), since hedging runs it twice. A batch
// form with a single "IN ?" placeholder (as Hopsworks serves it, e.g.
// "WHERE (`fg0`.`a`, `fg0`.`b`) IN ?") is accepted too; run it with
// [Stmt.Batch].
func (s *Store) Prepare(query string) (*Stmt, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st, ok := s.stmts[query]; ok {
		return st, nil
	}
	info, err := checkSelect(query)
	if err != nil {
		return nil, err
	}
	st := &Stmt{store: s, query: query, info: info, prepared: make([]atomic.Pointer[sql.Stmt], len(s.servers))}
	s.stmts[query] = st
	return st, nil
}

// Query is the statement's text.
func (st *Stmt) Query() string { return st.query }

// NumParams is the number of "?" placeholders (for a batch form, the
// single "IN ?" counts as one).
func (st *Stmt) NumParams() int { return st.info.params }

// IsBatch reports whether the statement has an "IN ?" batch placeholder.
func (st *Stmt) IsBatch() bool { return st.info.inAt >= 0 }

// KeyWidth is the number of columns of each batch key (0 if not a batch).
func (st *Stmt) KeyWidth() int {
	if !st.IsBatch() {
		return 0
	}
	return st.info.tupleWidth
}

// Batch turns a batch statement and its keys into calls of at most
// MaxBatchKeys keys each, with the "IN ?" placeholder expanded into bound
// placeholders — values are never written into the SQL. Other parameters
// of the statement are not supported in a batch form. Run the calls with
// [Store.QueryGroup]; they run concurrently on one server.
func (st *Stmt) Batch(keys [][]any) ([]Call, error) {
	if !st.IsBatch() {
		return nil, fmt.Errorf("%w: %q has no \"IN ?\" batch placeholder", ErrInvalidStatement, st.query)
	}
	if st.info.params != 1 {
		return nil, fmt.Errorf("%w: a batch statement must have \"IN ?\" as its only placeholder, it has %d", ErrInvalidStatement, st.info.params)
	}
	w := st.info.tupleWidth
	for i, k := range keys {
		if len(k) != w {
			return nil, fmt.Errorf("%w: key %d has %d values, the statement's tuple has %d", ErrArgCount, i, len(k), w)
		}
	}
	max := st.store.cfg.MaxBatchKeys
	var calls []Call
	for lo := 0; lo < len(keys); lo += max {
		hi := min(lo+max, len(keys))
		x, err := st.expanded(hi - lo)
		if err != nil {
			return nil, err
		}
		args := make([]any, 0, (hi-lo)*w)
		for _, k := range keys[lo:hi] {
			args = append(args, k...)
		}
		calls = append(calls, Call{Stmt: x, Args: args})
	}
	return calls, nil
}

func (st *Stmt) expanded(n int) (*Stmt, error) {
	st.batchMu.Lock()
	defer st.batchMu.Unlock()
	if x, ok := st.batch[n]; ok {
		return x, nil
	}
	q := expandIn(st.query, st.info, n)
	info, err := checkSelect(q)
	if err != nil {
		return nil, err
	}
	x := &Stmt{store: st.store, query: q, info: info, prepared: make([]atomic.Pointer[sql.Stmt], len(st.prepared))}
	if st.batch == nil {
		st.batch = map[int]*Stmt{}
	}
	st.batch[n] = x
	return x, nil
}

// on returns the statement prepared on srv, preparing it if needed. Two
// goroutines may race to prepare; the loser closes its copy. No lock is
// held across the round trip, so a hung server blocks only its own
// attempts.
func (st *Stmt) on(ctx context.Context, srv *server) (*sql.Stmt, error) {
	slot := &st.prepared[srv.rs.Index]
	if p := slot.Load(); p != nil {
		return p, nil
	}
	p, err := srv.db.PrepareContext(ctx, st.query)
	if err != nil {
		return nil, err
	}
	if !slot.CompareAndSwap(nil, p) {
		_ = p.Close()
		return slot.Load(), nil
	}
	return p, nil
}

func (st *Stmt) closeAll() {
	for i := range st.prepared {
		if p := st.prepared[i].Swap(nil); p != nil {
			_ = p.Close()
		}
	}
	st.batchMu.Lock()
	defer st.batchMu.Unlock()
	for _, x := range st.batch {
		x.closeAll()
	}
}
