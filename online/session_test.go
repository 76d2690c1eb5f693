package online

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// fakeServer plays the part of initSession's dialogue that MySQL 8 would
// play: it cannot run here (only MariaDB is installed), so a fake stands in
// for it, beside the MariaDB tests below.
type fakeServer struct {
	vars   map[string]string // session variables the server knows, after SET
	setErr error             // what SET SESSION TRANSACTION READ ONLY returns
	ioErr  error             // what every SELECT returns, if set
	seen   []string
	closed bool
}

func (f *fakeServer) Prepare(string) (driver.Stmt, error) { return nil, errors.New("fake: no prepare") }
func (f *fakeServer) Close() error                        { f.closed = true; return nil }
func (f *fakeServer) Begin() (driver.Tx, error)           { return nil, errors.New("fake: no transactions") }

func (f *fakeServer) ExecContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Result, error) {
	f.seen = append(f.seen, q)
	if q != "SET SESSION TRANSACTION READ ONLY" {
		return nil, errors.New("fake: unexpected " + q)
	}
	return driver.RowsAffected(0), f.setErr
}

func (f *fakeServer) QueryContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Rows, error) {
	f.seen = append(f.seen, q)
	if f.ioErr != nil {
		return nil, f.ioErr
	}
	name, ok := strings.CutPrefix(q, "SELECT @@session.")
	v, known := f.vars[name]
	if !ok || !known {
		return nil, &mysql.MySQLError{Number: 1193, Message: "Unknown system variable '" + name + "'"}
	}
	if v == "" {
		return &fakeRows{}, nil // no row
	}
	return &fakeRows{v: []byte(v)}, nil
}

type fakeRows struct {
	v    []byte
	done bool
}

func (r *fakeRows) Columns() []string { return []string{"v"} }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.done || r.v == nil {
		return io.EOF
	}
	r.done = true
	dest[0] = r.v
	return nil
}

type fakeConnector struct{ c *fakeServer }

func (f fakeConnector) Connect(context.Context) (driver.Conn, error) { return f.c, nil }
func (f fakeConnector) Driver() driver.Driver                        { return nil }

func TestInitSession(t *testing.T) {
	for _, tc := range []struct {
		name    string
		srv     *fakeServer
		wantErr error // nil: the session is read-only
		asks    int   // SELECTs asked
	}{
		{"MySQL 8: transaction_read_only only", &fakeServer{vars: map[string]string{"transaction_read_only": "1"}}, nil, 1},
		{"MariaDB 10.11: tx_read_only only", &fakeServer{vars: map[string]string{"tx_read_only": "1"}}, nil, 2},
		{"MariaDB 11.1: both", &fakeServer{vars: map[string]string{"transaction_read_only": "1", "tx_read_only": "1"}}, nil, 1},
		{"SET accepted, session still read-write", &fakeServer{vars: map[string]string{"transaction_read_only": "0"}}, ErrNotReadOnly, 1},
		{"SET refused", &fakeServer{setErr: &mysql.MySQLError{Number: 1064, Message: "syntax"}}, ErrNotReadOnly, 0},
		{"neither variable", &fakeServer{vars: map[string]string{}}, ErrNotReadOnly, 2},
		{"no row", &fakeServer{vars: map[string]string{"transaction_read_only": ""}}, ErrNotReadOnly, 1},
		{"not a number", &fakeServer{vars: map[string]string{"transaction_read_only": "ON"}}, ErrNotReadOnly, 1},
		{"lost connection", &fakeServer{ioErr: driver.ErrBadConn}, driver.ErrBadConn, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := initSession(context.Background(), tc.srv)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("initSession: %v", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("initSession = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == driver.ErrBadConn && errors.Is(err, ErrNotReadOnly) {
				t.Fatalf("a lost connection is blamed on the server: %v", err)
			}
			if got := len(tc.srv.seen) - 1; got != tc.asks {
				t.Fatalf("asked %d SELECTs (%q), want %d", got, tc.srv.seen, tc.asks)
			}
			if tc.srv.seen[0] != "SET SESSION TRANSACTION READ ONLY" {
				t.Fatalf("first statement %q", tc.srv.seen[0])
			}
			// The connector closes what it could not make read-only.
			tc.srv.closed, tc.srv.seen = false, nil
			dc, cerr := readOnlyConnector(fakeConnector{tc.srv}).Connect(context.Background())
			if (cerr == nil) != (tc.wantErr == nil) || (cerr != nil && (dc != nil || !tc.srv.closed)) {
				t.Fatalf("Connect = %v, %v; closed %v", dc, cerr, tc.srv.closed)
			}
		})
	}
	var me *mysql.MySQLError
	err := initSession(context.Background(), &fakeServer{setErr: &mysql.MySQLError{Number: 1227}})
	if !errors.As(err, &me) || me.Number != 1227 {
		t.Fatalf("the driver's error is not reachable: %v", err)
	}
}

// TestSessionReadOnlyOnMariaDB: every session a Store opens is read-only,
// and a write through one (a stored function that inserts, reached
// through the opt-in check) fails with 1792.
func TestSessionReadOnlyOnMariaDB(t *testing.T) {
	f := startReadOnlyFixture(t)
	c, err := mysql.NewConnector(f.user)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(readOnlyConnector(c))
	defer db.Close()
	ctx := ctxT(t, 10*time.Second)
	var on int
	if err := db.QueryRowContext(ctx, "SELECT @@session.tx_read_only").Scan(&on); err != nil || on != 1 {
		t.Fatalf("tx_read_only = %d, %v", on, err)
	}
	s := f.store(t, true, f.user)
	st := mustPrepare(t, s, "SELECT `tandem`.`f_write`() AS `w`")
	before := f.snapshot(t)
	_, err = s.Query(ctx, st, nil)
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1792 {
		t.Fatalf("a write through a Store session: %v, want error 1792 (ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION)", err)
	}
	if after := f.snapshot(t); !after.equal(before) {
		t.Fatalf("the write landed: %+v, was %+v", after, before)
	}
	// The same statement on a plain session of the same account writes:
	// the Store's session is what refused it.
	if _, err := openPlain(t, f.user).ExecContext(ctx, "SELECT `tandem`.`f_write`()"); err != nil {
		t.Fatal(err)
	}
	if after := f.snapshot(t); after.rows == before.rows {
		t.Fatal("the control write did not land either: the test proves nothing")
	}
}
