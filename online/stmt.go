package online

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Stmt is a validated, read-only statement. It is prepared lazily on each
// pooled connection the first time it runs there, and kept in that
// connection's bounded statement cache (Config.MaxStmtsPerConn). Get one
// with [Store.Prepare]; it is safe for concurrent use and owned by its
// Store, whose Close frees it; it has no Close of its own.
type Stmt struct {
	store *Store
	query string
	info  stmtInfo

	plan atomic.Pointer[decodePlan]

	batchMu sync.Mutex
	batch   map[int]*Stmt // expansions of "IN ?" by key count
}

// Prepare validates query and returns its statement. It does no I/O: the
// statement is prepared on a connection the first time it runs there. The
// same text returns the same *Stmt.
//
// By default only the statement shapes that the Hopsworks server
// generates for online serving are accepted (see sqlcheck.go): a SELECT of
// backquoted columns of one aliased table, filtered by bound keys, with no
// comment, function, variable, INTO, locking clause or union, since
// hedging runs it twice and the server must only ever read. The batch
// form with a single "IN ?" placeholder (as Hopsworks serves it, e.g.
// "WHERE (`fg0`.`a`, `fg0`.`b`) IN ?") is accepted too; run it with
// [Stmt.Batch]. [Config.AllowAnySelect] widens this to any single
// SELECT, at the risk its doc spells out.
func (s *Store) Prepare(query string) (*Stmt, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st, ok := s.stmts[query]; ok {
		return st, nil
	}
	info, err := s.cfg.checkStatement(query)
	if err != nil {
		return nil, err
	}
	st := &Stmt{store: s, query: query, info: info}
	s.stmts[query] = st
	if !st.IsBatch() {
		s.singles++
		for _, srv := range s.servers {
			srv.pool.wantStmts.Store(int64(min(s.singles, s.cfg.MaxStmtsPerConn)))
		}
	}
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
// placeholders — values are never written into the SQL. Each call is
// padded to one of a few sizes by repeating its last key, which changes
// no result: IN matches a row once however often its key is listed. So a
// batch statement has a handful of prepared forms, not one per key
// count. Other parameters of the statement are not supported in a batch
// form. Run the calls with [Store.QueryGroup]; they run concurrently on
// one server.
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
	limit := st.store.cfg.MaxBatchKeys
	var calls []Call
	for lo := 0; lo < len(keys); lo += limit {
		hi := min(lo+limit, len(keys))
		n := batchForm(hi-lo, limit)
		x, err := st.expanded(n)
		if err != nil {
			return nil, err
		}
		args := make([]any, 0, n*w)
		for _, k := range keys[lo:hi] {
			args = append(args, k...)
		}
		last := keys[hi-1]
		for range n - (hi - lo) {
			args = append(args, last...)
		}
		calls = append(calls, Call{Stmt: x, Args: args})
	}
	return calls, nil
}

// batchForm is the number of keys of the form that carries n keys: the
// next power of two, or limit.
func batchForm(n, limit int) int {
	f := 1
	for f < n {
		f *= 2
	}
	return min(f, limit)
}

func (st *Stmt) expanded(n int) (*Stmt, error) {
	st.batchMu.Lock()
	defer st.batchMu.Unlock()
	if x, ok := st.batch[n]; ok {
		return x, nil
	}
	q := expandIn(st.query, st.info, n)
	info, err := st.store.cfg.checkStatement(q)
	if err != nil {
		return nil, err
	}
	x := &Stmt{store: st.store, query: q, info: info}
	if st.batch == nil {
		st.batch = map[int]*Stmt{}
	}
	st.batch[n] = x
	return x, nil
}
