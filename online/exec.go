package online

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
)

// errNotPooled means a connection of the Store's pool is unknown to its
// connector, which would be a bug.
var errNotPooled = errors.New("online: connection not opened by the Store's connector")

// maxBadConnRetries matches database/sql: a connection the driver finds
// dead before it sent anything is replaced, twice at most.
const maxBadConnRetries = 2

// runHeld runs c on a connection of srv's pool, held for the call, at the
// driver's level: the statement is prepared once per connection and kept,
// and the rows are decoded straight from the driver. Skipping
// database/sql's statement, argument and row machinery saves about as much
// as the Store's hedging costs. With ir set, the connection's socket is
// attached to it during the I/O.
func (s *Store) runHeld(ctx context.Context, srv *server, c Call, ir *interruptor) (*Rows, error) {
	var out *Rows
	var err error
	for try := 0; ; try++ {
		out, err = s.runHeldOnce(ctx, srv, c, ir)
		if err == nil || !errors.Is(err, driver.ErrBadConn) || try == maxBadConnRetries || ir.interrupted() {
			return out, err
		}
	}
}

func (s *Store) runHeldOnce(ctx context.Context, srv *server, c Call, ir *interruptor) (*Rows, error) {
	var conn *sql.Conn
	var err error
	if ir != nil {
		conn, err = ir.conn(ctx, srv.db)
	} else {
		conn, err = srv.db.Conn(ctx)
	}
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out *Rows
	var qerr error
	rerr := conn.Raw(func(dc any) error {
		pc := srv.conn.lookup(dc)
		if pc == nil {
			qerr = errNotPooled
			return qerr
		}
		if ir != nil && !ir.attach(pc.sock) {
			qerr = errInterrupted // the connection was not touched
			return nil
		}
		out, qerr = queryDriver(ctx, dc, pc, c)
		if ir != nil && ir.detach(pc.sock) {
			// The socket was stopped, maybe after the rows were read:
			// the connection cannot be trusted again.
			return driver.ErrBadConn
		}
		return qerr
	})
	if qerr == nil && out == nil {
		qerr = rerr
	}
	return out, qerr
}

// queryDriver prepares c's statement on dc if it is not yet, runs it and
// decodes the rows.
func queryDriver(ctx context.Context, dc any, pc *pooled, c Call) (*Rows, error) {
	ds, ok := pc.stmts[c.Stmt]
	if !ok {
		pctx, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return nil, fmt.Errorf("online: driver connection %T cannot prepare with a context", dc)
		}
		var err error
		if ds, err = pctx.PrepareContext(ctx, c.Stmt.query); err != nil {
			return nil, err
		}
		pc.stmts[c.Stmt] = ds
	}
	args := make([]driver.NamedValue, len(c.Args))
	checker, _ := dc.(driver.NamedValueChecker)
	for i, a := range c.Args {
		args[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		if err := checkArg(checker, &args[i]); err != nil {
			return nil, fmt.Errorf("%w: argument %d: %w", ErrArgType, i+1, err)
		}
	}
	qs, ok := ds.(driver.StmtQueryContext)
	if !ok {
		return nil, fmt.Errorf("online: driver statement %T cannot query with a context", ds)
	}
	rows, err := qs.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	out, err := decodeDriver(rows, c.Stmt)
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkArg converts an argument as database/sql would: the driver's
// checker first, then the default converter.
func checkArg(checker driver.NamedValueChecker, nv *driver.NamedValue) error {
	if checker != nil {
		err := checker.CheckNamedValue(nv)
		if !errors.Is(err, driver.ErrSkip) {
			return err
		}
	}
	v, err := driver.DefaultParameterConverter.ConvertValue(nv.Value)
	if err != nil {
		return err
	}
	nv.Value = v
	return nil
}

func planForDriver(rows driver.Rows) *decodePlan {
	cols := rows.Columns()
	p := &decodePlan{cols: cols, kinds: make([]colKind, len(cols))}
	tn, ok := rows.(driver.RowsColumnTypeDatabaseTypeName)
	if !ok {
		return p
	}
	for i := range cols {
		p.kinds[i] = kindOf(strings.ToUpper(tn.ColumnTypeDatabaseTypeName(i)))
	}
	return p
}

// decodeDriver reads every row. The driver's []byte values point into its
// read buffer, valid until the next row, so they are copied (as
// database/sql does when it scans into an any).
func decodeDriver(rows driver.Rows, st *Stmt) (*Rows, error) {
	p := st.plan.Load()
	if p == nil {
		p = planForDriver(rows)
		st.plan.Store(p)
	}
	n := len(p.cols)
	if len(rows.Columns()) != n {
		// The table changed under a cached plan: decode with a fresh one,
		// and keep it for the next reads.
		p = planForDriver(rows)
		n = len(p.cols)
		st.plan.Store(p)
	}
	out := &Rows{Columns: p.cols}
	dest := make([]driver.Value, n)
	for {
		err := rows.Next(dest)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		row := make([]any, n)
		for i, v := range dest {
			if b, ok := v.([]byte); ok && p.kinds[i] == kindAsIs {
				v = bytes.Clone(b)
			}
			row[i] = convert(v, p.kinds[i])
		}
		out.Values = append(out.Values, row)
	}
}
