package online

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// maxBadConnRetries matches database/sql: a connection the driver finds
// dead before it sent anything is replaced, twice at most.
const maxBadConnRetries = 2

// runOne runs c on a connection of srv's pool, held for the call, at the
// driver's level: the statement is prepared once per connection (and kept
// in its bounded cache), and the rows are decoded straight from the
// driver. Every I/O of the call ends by deadline at the latest. With ir
// set, the connection is attached to it during the I/O, and its wait for
// a connection ends when ir fires.
func (s *Store) runOne(ctx context.Context, srv *server, c Call, ir *interruptor, deadline time.Time, aw *answerWatch, k int) (*Rows, error) {
	for try := 0; ; try++ {
		out, err := s.runOnce(ctx, srv, c, ir, deadline, aw, k)
		if err == nil || !errors.Is(err, driver.ErrBadConn) || try == maxBadConnRetries || ir.interrupted() || !time.Now().Before(deadline) {
			aw.finish(k)
			return out, err
		}
	}
}

func (s *Store) runOnce(ctx context.Context, srv *server, c Call, ir *interruptor, deadline time.Time, aw *answerWatch, k int) (*Rows, error) {
	var stop func() <-chan struct{}
	if ir != nil {
		stop = ir.wait
	}
	pc, err := srv.pool.acquire(ctx, deadline, stop)
	if err != nil {
		return nil, err
	}
	if ir != nil && !ir.attach(pc) {
		srv.pool.release(pc) // the connection was not touched
		return nil, errInterrupted
	}
	pc.begin(deadline)
	aw.track(k, pc)
	out, err := pc.query(ctx, c)
	aw.track(k, nil)
	pc.end()
	if ir != nil && ir.detach(pc) {
		// The connection may have been interrupted, maybe after the rows
		// were read: it cannot be trusted again.
		pc.interrupt()
		if err == nil {
			err = errInterrupted
			out = nil
		}
	}
	srv.pool.release(pc)
	return out, err
}

// query prepares c's statement on pc if it is not yet, runs it and decodes
// the rows.
func (pc *pconn) query(ctx context.Context, c Call) (*Rows, error) {
	ds, err := pc.stmt(ctx, c.Stmt)
	if err != nil {
		return nil, err
	}
	// The connection's own buffer: only its holder uses it, and the driver
	// has written the arguments out when QueryContext returns.
	args := pc.args[:0]
	for i, a := range c.Args {
		args = append(args, driver.NamedValue{Ordinal: i + 1, Value: a})
		if err := checkArg(pc.checker, &args[i]); err != nil {
			return nil, fmt.Errorf("%w: argument %d: %w", ErrArgType, i+1, err)
		}
	}
	qs, ok := ds.(driver.StmtQueryContext)
	if !ok {
		return nil, fmt.Errorf("online: driver statement %T cannot query with a context", ds)
	}
	rows, err := qs.QueryContext(ctx, args)
	pc.args = args[:0]
	if err != nil {
		return nil, err
	}
	out, err := decodeDriver(rows, c.Stmt, &pc.dest)
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ping checks pc's server with COM_PING.
func (pc *pconn) ping(ctx context.Context) error {
	if p, ok := pc.dc.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
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
func decodeDriver(rows driver.Rows, st *Stmt, destBuf *[]driver.Value) (*Rows, error) {
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
	if cap(*destBuf) < n {
		*destBuf = make([]driver.Value, n)
	}
	dest := (*destBuf)[:n]
	defer clear(dest) // keep no values alive between reads
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

// connectSession opens one driver connection through c: the one place
// where every session the Store uses begins. Each is made read-only on
// the server before its first statement (session.go).
func connectSession(ctx context.Context, c driver.Connector) (driver.Conn, error) {
	return readOnlyConnector(c).Connect(ctx)
}
