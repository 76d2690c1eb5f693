// Package mariadbtest launches real MariaDB servers on free loopback ports,
// each with its own temporary data directory, for Tandem's online-store tests
// and the benchmark harness (docs/ARCHITECTURE.md §6). Optionally each server sits behind
// a [faultproxy.Proxy] that plays latency, stalls, blackholes, refusals and
// resets.
//
// # Contract
//
// [Launch] is the non-test API: it initialises a template data directory
// once (mariadb-install-db, ~0.7 s; cached on disk across processes, keyed by
// the mariadbd binary), copies it for the server (~0.05 s), starts mariadbd
// and returns once a driver connection succeeds (~0.2 s). [Start] wraps it
// for tests: it launches n servers in parallel, skips the test when MariaDB
// is not installed (but fails it under CI=true, so CI never silently skips),
// and stops everything in t.Cleanup.
//
// Root has no password over TCP. [Server.DSN] and [Server.MySQLConfig] point
// at [Server.ClientAddr], which is the proxy when [Options.Proxy] is set; the
// proxy outlives [Server.Kill] and [Server.Restart], which keeps the same
// data directory and port. [Server.Stop] shuts down gracefully, closes the
// proxy and deletes the data directory.
//
// Servers do not outlive the process that launched them: on Linux they get
// SIGKILL when it dies (PR_SET_DEATHSIG) and run in their own process group,
// so a Ctrl-C aimed at `go test` does not race our own shutdown. The data
// directory of a launcher that died without cleanup (a SIGKILL, a `go test
// -timeout` panic) is removed by the next process that calls Launch.
//
// Committed rows survive [Server.Kill]: the server runs with
// innodb_flush_log_at_trx_commit=2 (write at commit, never fsync), not 0,
// which loses the last second of commits on a process crash.
//
// # Errors
//
// Errors are prefixed "mariadbtest: ". Startup failures include the tail of
// the server's error log. Calls after [Server.Stop] return [ErrStopped].
//
// # Concurrency
//
// A [Server] is safe for concurrent use. Lifecycle calls (Kill, Restart,
// Stop) are serialised; Exec, DSN and the address getters may run alongside
// them (Exec then simply fails while the server is down). Launch may be called
// from many goroutines; they share one template initialisation.
package mariadbtest
