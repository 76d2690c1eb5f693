package online

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemfs/tandem/internal/hedge"
	"github.com/tandemfs/tandem/region"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrClosed is returned by calls on a closed Store.
	ErrClosed = errors.New("online: store is closed")
	// ErrInvalidConfig wraps every configuration error of New.
	ErrInvalidConfig = errors.New("online: invalid config")
	// ErrInvalidStatement reports a statement that is not a single,
	// read-only SELECT. Tandem only hedges reads.
	ErrInvalidStatement = errors.New("online: not a single read-only SELECT")
	// ErrArgCount reports a call whose number of arguments does not match
	// the statement's placeholders.
	ErrArgCount = errors.New("online: wrong number of arguments")
	// ErrArgType reports an argument the driver cannot send (a struct, a
	// map, a channel…).
	ErrArgType = errors.New("online: unsupported argument type")
	// ErrUnknownRegion reports a pinned region that is not in the topology.
	ErrUnknownRegion = errors.New("online: unknown region")
)

// RegionError is the error of one attempt on one server. The driver's
// *mysql.MySQLError stays reachable with errors.As.
type RegionError struct {
	Region region.ID
	Server string
	Op     string
	Err    error
}

func (e *RegionError) Error() string {
	return fmt.Sprintf("online: %s on %s/%s: %v", e.Op, e.Region, e.Server, e.Err)
}

func (e *RegionError) Unwrap() error { return e.Err }

// serverCode is a MySQL error number that is not the statement's fault:
// it is about one server (or one region), so the attempt fails, counts
// against that server's health, and the read moves on to the next server
// at once, or is left to an attempt still running. Every other server
// error (syntax 1064, unknown column 1054, no privilege on a table 1142,
// …) is the statement's fault and ends the read: the other region would
// say the same.
type serverCode struct {
	reason string
	// retry says whether the same call may succeed later (IsRetryable):
	// true for a passing state of the server, false for a setting of it
	// that only an operator changes.
	retry bool
}

// serverCodes lists each such code with its reason. The names are the
// server's (MySQL's include/mysqld_error.h, MariaDB's
// include/mysqld_error.h; 2xxx are client errors from errmsg.h).
var serverCodes = map[uint16]serverCode{
	// Errors about one server or one region's setup.
	1045: {"ER_ACCESS_DENIED_ERROR: the region has other credentials", false},
	1049: {"ER_BAD_DB_ERROR: the database is not (yet) in this region", false},
	1146: {"ER_NO_SUCH_TABLE: the table is not (yet) replicated to this region", false},
	1129: {"ER_HOST_IS_BLOCKED: this server blocked the client's host after connection errors", false},
	1203: {"ER_TOO_MANY_USER_CONNECTIONS: the server's max_user_connections is reached", true},
	1226: {"ER_USER_LIMIT_REACHED: the account's connection or query limit on this server is reached", true},
	1461: {"ER_MAX_PREPARED_STMT_COUNT_REACHED: the server's max_prepared_stmt_count is reached", true},
	// Transient states of the server or the network.
	1040: {"ER_CON_COUNT_ERROR: too many connections", true},
	1053: {"ER_SERVER_SHUTDOWN: shutdown in progress", true},
	1077: {"ER_NORMAL_SHUTDOWN", true},
	1079: {"ER_SHUTDOWN_COMPLETE", true},
	1080: {"ER_FORCING_CLOSE: forcing close of thread", true},
	1152: {"ER_ABORTING_CONNECTION", true},
	1158: {"ER_NET_READ_ERROR", true},
	1159: {"ER_NET_READ_INTERRUPTED: network read timeout", true},
	1160: {"ER_NET_ERROR_ON_WRITE", true},
	1161: {"ER_NET_WRITE_INTERRUPTED: network write timeout", true},
	1205: {"ER_LOCK_WAIT_TIMEOUT", true},
	1213: {"ER_LOCK_DEADLOCK", true},
	1290: {"ER_OPTION_PREVENTS_STATEMENT: --read-only and the like", true},
	1317: {"ER_QUERY_INTERRUPTED", true},
	1836: {"ER_READ_ONLY_MODE", true},
	1927: {"ER_CONNECTION_KILLED", true},
	2002: {"CR_CONNECTION_ERROR: cannot connect", true},
	2003: {"CR_CONN_HOST_ERROR: cannot connect", true},
	2006: {"CR_SERVER_GONE_ERROR", true},
	2013: {"CR_SERVER_LOST", true},
	4031: {"ER_CLIENT_INTERACTION_TIMEOUT: disconnected for inactivity", true},
}

// classify maps an attempt's error to a hedge class. A server error in
// serverCodes, and everything that smells of the network or of the
// server's state, is Transient: that attempt fails and the read goes on
// elsewhere. Any other server error, and misuse, is the statement's fault:
// Fatal, the read ends.
func classify(err error) hedge.Class {
	// A server that would not make a session read-only is that server's
	// setup, whatever MySQL error came with it (a 1064 there is the SET
	// statement's, not the read's): fail over, never end the read.
	if errors.Is(err, ErrNotReadOnly) {
		return hedge.Transient
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		if _, ok := serverCodes[me.Number]; ok {
			return hedge.Transient
		}
		return hedge.Fatal
	}
	if errors.Is(err, ErrArgCount) || errors.Is(err, ErrArgType) || errors.Is(err, ErrInvalidStatement) {
		return hedge.Fatal
	}
	return hedge.Transient
}

// blamesServer reports whether err should count against the server's
// health. A fatal statement error does not; neither does the attempt's own
// context ending because the request was over.
func blamesServer(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	return classify(err) == hedge.Transient
}

// IsRetryable reports whether err is worth retrying later: a lost
// connection, a refused dial, a server that is shutting down, read-only or
// out of connections or statements, or a timeout. It is false for
// statement errors (syntax, unknown column, no privilege), for a server's
// setup that only an operator changes (access denied, unknown database or
// table: the Store has already tried the other servers), and for misuse
// (wrong arguments, closed store).
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, ErrClosed) || errors.Is(err, ErrArgCount) || errors.Is(err, ErrArgType) ||
		errors.Is(err, ErrInvalidStatement) || errors.Is(err, ErrUnknownRegion) ||
		errors.Is(err, ErrInvalidConfig) || errors.Is(err, ErrNotReadOnly) || errors.Is(err, context.Canceled) {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return serverCodes[me.Number].retry
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, context.DeadlineExceeded)
}
