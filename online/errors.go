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

// MySQL error numbers that blame the server, not the statement: the other
// region (or server) is tried at once (DESIGN.md §4 rule 4).
var transientCodes = map[uint16]bool{
	1040: true,                                     // too many connections
	1053: true,                                     // server shutdown in progress
	1077: true,                                     // normal shutdown
	1079: true,                                     // shutdown complete
	1080: true,                                     // forcing close of thread
	1152: true,                                     // aborted connection
	1158: true,                                     // network read error
	1159: true,                                     // network read timeout
	1160: true,                                     // network write error
	1161: true,                                     // network write timeout
	1205: true,                                     // lock wait timeout
	1213: true,                                     // deadlock
	1290: true,                                     // --read-only
	1317: true,                                     // query interrupted
	1836: true,                                     // read-only mode
	1927: true,                                     // connection killed
	2002: true, 2003: true, 2006: true, 2013: true, // client: cannot connect, gone away, lost
	4031: true, // disconnected by the server for inactivity
}

// classify maps an attempt's error to a hedge class. Errors that a server
// raises about the statement itself (syntax, access, unknown table or
// column) are fatal: the other region would say the same. Everything that
// smells of the network or of the server's state is transient.
func classify(err error) hedge.Class {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		if transientCodes[me.Number] {
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

// IsRetryable reports whether err is worth retrying later or elsewhere: a
// lost connection, a refused dial, a server that is shutting down, read-only
// or out of connections, or a timeout. It is false for statement errors
// (syntax, access denied, unknown table) and for misuse (wrong arguments,
// closed store).
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, ErrClosed) || errors.Is(err, ErrArgCount) || errors.Is(err, ErrArgType) ||
		errors.Is(err, ErrInvalidStatement) || errors.Is(err, ErrUnknownRegion) ||
		errors.Is(err, ErrInvalidConfig) || errors.Is(err, context.Canceled) {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return transientCodes[me.Number]
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, context.DeadlineExceeded)
}
