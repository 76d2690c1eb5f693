// Package hedge runs one logical request as up to N attempts on an ordered
// list of targets: the first at once, each next one after a delay (a
// hedge) or at once when an attempt fails transiently (a failover). The
// first success wins; a fatal error ends the request at once.
//
// The rules come from docs/ARCHITECTURE.md#hedging: hedges are capped by a [Budget] (a
// token bucket plus a concurrency cap) and only the new hedge is
// suppressed when it is spent; losers are not cancelled by default, since
// go-sql-driver cancels by closing the connection while the server keeps
// running the query, so a loser finishes under its own deadline and its
// pooled connection survives; every attempt's goroutine is tracked so the
// owner can wait for all of them on Close.
//
// # Concurrency
//
// An [Engine] and a [Budget] are safe for concurrent use. [Do] may be
// called from many goroutines at once.
package hedge
