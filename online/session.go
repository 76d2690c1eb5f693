package online

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/go-sql-driver/mysql"
)

// Read-only by construction, layer two: the server.
//
// Every session the Store opens runs SET SESSION TRANSACTION READ ONLY
// before its first statement and reads the setting back. From then on,
// each statement of the session runs in a read-only transaction (autocommit
// included), and the server refuses any change to a table or a sequence,
// even one made by a stored function or trigger, with error 1792
// (ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION). The statement works on
// MySQL 8 (RonDB's MySQL servers) and MariaDB; only the name of the
// variable that reflects it differs: MySQL 8 removed tx_read_only for
// transaction_read_only (MySQL WL#9636), and MariaDB 10.11 knows only
// tx_read_only (transaction_read_only came in MariaDB 11.1).
//
// What a read-only session does not stop (measured on MariaDB 10.11, see
// readonly_test.go): SELECT … INTO OUTFILE or DUMPFILE and LOAD_FILE
// (FILE privilege), user-level locks (GET_LOCK), SLEEP and BENCHMARK, user
// variables, on MySQL 8 the session's own
// temporary tables, and a stored function that runs SET SESSION
// TRANSACTION READ WRITE, which ends read-only mode for the rest of the
// session. The statement allow-list (sqlcheck.go) refuses all of them;
// the account's privileges must do the rest: SELECT on the project's
// database and nothing else (no FILE, no EXECUTE).
//
// The session stays read-only for the connection's life as long as
// nothing resets it: go-sql-driver's ResetSession only checks liveness, and
// a pool that sends COM_RESET_CONNECTION or COM_CHANGE_USER must run
// initSession again.

// ErrNotReadOnly reports a server that did not make a new session
// read-only: it refused SET SESSION TRANSACTION READ ONLY, or reported the
// session read-write after it. The connection is closed, never used; the
// driver's *mysql.MySQLError, if any, stays reachable with errors.As.
var ErrNotReadOnly = errors.New("online: the server did not make the session read-only")

// readOnlyVars name the session's access mode: MySQL 8 first (RonDB in
// production), then MariaDB before 11.1.
var readOnlyVars = [...]string{"transaction_read_only", "tx_read_only"}

// errUnknownSysVar is ER_UNKNOWN_SYSTEM_VARIABLE.
const errUnknownSysVar = 1193

// initSession makes the session of c read-only and checks that the server
// reports it so. It costs two round trips on MySQL 8 and three on MariaDB
// 10.11, once per connection.
func initSession(ctx context.Context, c driver.Conn) error {
	ex, ok := c.(driver.ExecerContext)
	qc, ok2 := c.(driver.QueryerContext)
	if !ok || !ok2 {
		return fmt.Errorf("online: driver connection %T cannot execute statements with a context", c)
	}
	if _, err := ex.ExecContext(ctx, "SET SESSION TRANSACTION READ ONLY", nil); err != nil {
		return sessionError("SET SESSION TRANSACTION READ ONLY", err)
	}
	for _, name := range readOnlyVars {
		q := "SELECT @@session." + name
		on, err := queryBool(ctx, qc, q)
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == errUnknownSysVar {
			continue
		}
		if err != nil {
			return sessionError(q, err)
		}
		if !on {
			return fmt.Errorf("%w: @@session.%s is off after SET SESSION TRANSACTION READ ONLY", ErrNotReadOnly, name)
		}
		return nil
	}
	return fmt.Errorf("%w: it knows neither @@session.transaction_read_only nor @@session.tx_read_only", ErrNotReadOnly)
}

// sessionError blames the server for what it answered, and the connection
// for the rest (a lost connection is not a server that refused).
func sessionError(q string, err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return fmt.Errorf("%w: %s: %w", ErrNotReadOnly, q, err)
	}
	return fmt.Errorf("online: making the session read-only (%s): %w", q, err)
}

// queryBool runs q, which returns one row of one number, and reads it as a
// boolean.
func queryBool(ctx context.Context, qc driver.QueryerContext, q string) (bool, error) {
	rows, err := qc.QueryContext(ctx, q, nil)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if len(rows.Columns()) != 1 {
		return false, fmt.Errorf("%w: %s returned %d columns", ErrNotReadOnly, q, len(rows.Columns()))
	}
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		if err == io.EOF {
			return false, fmt.Errorf("%w: %s returned no row", ErrNotReadOnly, q)
		}
		return false, err
	}
	var n int64
	switch v := dest[0].(type) {
	case int64:
		n = v
	case []byte:
		n, err = strconv.ParseInt(string(v), 10, 64)
	case string:
		n, err = strconv.ParseInt(v, 10, 64)
	default:
		err = fmt.Errorf("a %T", v)
	}
	if err != nil {
		return false, fmt.Errorf("%w: %s returned %v", ErrNotReadOnly, q, err)
	}
	return n != 0, nil
}

// readOnlyConnector wraps c so that every connection it opens is
// read-only on the server (initSession), or is closed and not returned.
// The connections are c's own, unwrapped, so the driver's interfaces stay
// reachable.
func readOnlyConnector(c driver.Connector) driver.Connector { return roConnector{c} }

type roConnector struct{ driver.Connector }

func (r roConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := r.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if err := initSession(ctx, dc); err != nil {
		_ = dc.Close()
		return nil, err
	}
	return dc, nil
}
