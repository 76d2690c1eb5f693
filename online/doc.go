// Package online reads feature rows from the online stores of several
// regions (RonDB's MySQL servers in production) as if they were one, with
// hedged, read-only statements.
//
// A [Store] owns one connection pool per server, over go-sql-driver's
// driver.Connector, built from a mysql.Config, never from a DSN string
// (see pool.go for why not database/sql). A read goes to the preferred
// server (the local region while it is healthy, spread over its servers
// by the power of two choices); if it has not answered after the hedge
// delay, the same read goes to another server of the same region, then to
// another region; the first answer wins. A transient or per-server error
// moves on at once; an error that is the statement's own fault ends the
// read at once (see Errors). The rules are in docs/ARCHITECTURE.md#hedging.
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
// by its own deadline and its connection returns to the pool. An attempt
// that runs far beyond the server's normal latency counts as a failure, so
// a blackholed server is ejected in tens of milliseconds; an ejected
// server is probed on fresh connections with a short timeout and gets
// traffic back as soon as a probe succeeds.
//
// On a server that is rarely hedged (at most 1% of its recent attempts
// outlast the hedge delay), the first attempt runs on the caller's
// goroutine rather than on a worker, saving two goroutine hand-offs. The
// pool's connections dial through sockets the Store can interrupt, so when
// a hedge wins, or the caller's context ends, that attempt stops at once;
// it costs its connection, as a cancel does with the plain driver. See
// conn.go and [HedgeConfig.WorkersOnly].
//
// # Connections and statements
//
// Nothing dials before the Store is used: [New] validates and returns. The
// first read, [Store.Ping] or [Store.Warm] starts the background loop,
// which keeps MinIdleConns connections per available server. Each pooled
// connection keeps at most MaxStmtsPerConn prepared statements and closes
// the least recently used one on the server when it needs room; a batch
// is padded to a few sizes (powers of two up to MaxBatchKeys), so a batch
// statement has a handful of forms. [Stats] reports the connections opened,
// discarded and in use, and the statements held. Every attempt, its wait
// for a connection included, ends by AttemptTimeout after it started,
// however slowly a server sends its bytes.
//
// Connections use TLS per region ([RegionConfig.TLS], [TLSConfig]).
//
// # Errors
//
// Calls return errors that wrap the sentinels [ErrClosed],
// [ErrInvalidConfig], [ErrInvalidStatement], [ErrArgCount], [ErrArgType],
// [ErrUnknownRegion] and [ErrNotReadOnly] (a server that would not make a
// session read-only: it fails only that server's attempt), or a [*RegionError] naming the region and server of
// the attempt, through which the driver's *mysql.MySQLError stays reachable
// with errors.As. When every server failed, the attempts' errors are
// joined. [IsRetryable] tells transient failures from the others. A
// cancelled or expired ctx returns ctx.Err() at once.
//
// A server's error is one of three kinds:
//
//   - The statement's fault: it ends the read, since the other region
//     would say the same, and does not count against the server. Syntax
//     (1064), unknown column (1054), ambiguous column (1052), no privilege
//     on the table (1142), and every code not listed below.
//   - About one server or region: the attempt fails, counts against the
//     server's health, and the read goes on elsewhere at once or is left
//     to an attempt still running. 1045 access denied (the region has
//     other credentials), 1049 unknown database and 1146 unknown table (the
//     schema is not replicated there yet), 1129 host blocked, 1203 and 1226
//     user connection limits, 1461 max_prepared_stmt_count reached.
//   - Transient: the same as the previous kind, and [IsRetryable] is true.
//     1040 too many connections; 1053, 1077, 1079, 1080 shutdown; 1152,
//     1158–1161, 1927, 2002, 2003, 2006, 2013, 4031 lost or refused
//     connections; 1205, 1213 lock waits; 1290, 1836 read-only; 1317 query
//     interrupted; and 1203, 1226, 1461 above, which pass.
//
// The table with each code's reason is serverCodes in errors.go.
//
// # Concurrency
//
// A Store and its Stmts are safe for concurrent use. New starts no
// goroutine; the first use starts one background loop (pool warming,
// probes of ejected servers, delay refresh), which spawns short-lived
// goroutines for probes and warming. Close stops the loop and waits for it
// and for every attempt still running (each ends by its AttemptTimeout, a
// wait for a pooled connection included), then closes the pools; a
// connection still held by an attempt on a caller's goroutine is closed
// when that attempt returns. Calls after Close return ErrClosed. The
// hedge timers run on one scheduler goroutine, which does not log or
// block; ejections it notices are logged by the background loop.
//
// # Telemetry
//
// With [WithMeterProvider], the Store records, under the instrumentation
// scope "github.com/tandemfs/tandem/online":
//
//   - tandem.online.duration (histogram, s): a read's latency as the caller
//     saw it, with tandem.hedged;
//   - tandem.online.attempt.duration (histogram, s): each attempt's, with
//     tandem.region, tandem.server and tandem.error;
//   - tandem.online.hedges (counter): tandem.hedge.event sent, won or
//     suppressed (by the budget);
//   - tandem.online.failovers (counter): attempts started at once after an
//     error;
//   - tandem.online.ejections and tandem.online.recoveries (counters), per
//     server;
//   - tandem.online.connections.open and tandem.online.hedge.delay
//     (gauges), per server.
//
// With [WithTracerProvider], each read is a client span "online.Query"
// with db.system, db.operation.name, server.address, tandem.region,
// tandem.hedged, tandem.attempts and tandem.statements, and error.type
// (timeout, canceled, statement, unavailable) on failure. Without the
// options nothing is recorded; the global providers are never used.
package online
