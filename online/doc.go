// Package online reads feature rows from the online stores of several
// regions (RonDB's MySQL servers in production) as if they were one, with
// hedged, read-only statements.
//
// A [Store] holds one database/sql pool per server, built from a
// mysql.Config through mysql.NewConnector and sql.OpenDB, never from a DSN
// string. A read goes to the preferred server (the local region while it is
// healthy, spread over its servers by the power of two choices); if it has
// not answered after the hedge delay, the same read goes to another server
// of the same region, then to another region; the first answer wins. A
// transient error (dial, lost connection, too many connections, read-only,
// shutdown) moves on at once; a statement error (syntax, access denied,
// unknown table) ends the read at once. See DESIGN.md §4.
//
// [Store.QueryGroup] runs several statements (one per feature group of a
// vector) as one unit: every attempt runs all of them concurrently on one
// server, and a hedge re-runs all of them elsewhere, so a result never mixes
// data from two regions. Each [Result] names the region and server that
// served it and whether it was hedged; [Pin] reads from one region only,
// for read-your-writes.
//
// The hedge delay adapts to each server's recent latency (see delay.go):
// it stays above the jitter of a healthy server, so hedges stay rare, yet
// drops to the floor when the server's tail is made of stalls that a hedge
// would beat. Hedges are capped by a budget; the losing attempt is not
// cancelled (go-sql-driver cancels by closing the connection), it finishes
// under the socket deadline and its connection returns to the pool. An
// attempt that runs far beyond the server's normal latency counts as a
// failure, so a blackholed server is ejected in tens of milliseconds; an
// ejected server is probed on fresh connections with a short timeout and
// gets traffic back as soon as a probe succeeds.
//
// On a server that is rarely hedged (at most 1% of its recent attempts
// outlast the hedge delay), the first attempt runs on the caller's
// goroutine rather than on a worker, saving two goroutine hand-offs, about
// a tenth of a local lookup. The pool's connections dial through sockets
// the Store can interrupt, so when a hedge wins, or the caller's context
// ends, that attempt stops at once; it costs its connection, as a cancel
// does with the plain driver. On a pool the Store opened, statements are
// prepared once per connection and run at the driver's level. See conn.go
// and [HedgeConfig.NoInline].
//
// # Errors
//
// Calls return errors that wrap the sentinels [ErrClosed],
// [ErrInvalidConfig], [ErrInvalidStatement], [ErrArgCount], [ErrArgType]
// and [ErrUnknownRegion], or a [*RegionError] naming the region and server of
// the attempt, through which the driver's *mysql.MySQLError stays reachable
// with errors.As. When every server failed, the attempts' errors are
// joined. [IsRetryable] tells transient failures from statement errors. A
// cancelled or expired ctx returns ctx.Err() at once.
//
// # Concurrency
//
// A Store and its Stmts are safe for concurrent use. New starts one
// background goroutine (pool warming, probes, delay refresh); Close stops it,
// waits for every attempt still running (each bounded by AttemptTimeout per
// read) and closes the pools the Store opened, but not those given with
// [WithDB]. Calls after Close return ErrClosed.
package online
