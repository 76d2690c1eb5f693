// Package faultproxy is a small TCP proxy that injects network faults
// between a client and a MySQL-protocol server (or any request/response TCP
// server). Tandem's online-store tests and the benchmark harness put one in
// front of each MariaDB server to play a remote region (added latency), a
// sick region (per-request stalls), a hung region (blackhole), a dead region
// (connection refused) and a flaky network (connection resets).
//
// We do not use Toxiproxy: its toxics are rolled per connection, not per
// request, and scenario S2 ("eu stalls 2% of requests by 100 ms",
// docs/ARCHITECTURE.md) needs per-request stalls.
//
// # Contract
//
// [New] binds the listener (so [Proxy.Addr] is valid at once) and starts
// accepting; it does not dial the target. Each accepted client connection is
// paired with one upstream connection dialled to the target. Faults apply
// from the moment the setter returns:
//
//   - [Proxy.SetLatency]: a one-way delay on server→client bytes, so every
//     round trip (including the MySQL handshake) gets +d. Each chunk is
//     timestamped when read and released at read-time+d, so pipelined chunks
//     are not delayed cumulatively.
//   - [Proxy.SetStall]: each client→server read (our approximation of a
//     request) is held for d with probability p before it is forwarded.
//   - [Proxy.SetTrickle]: server→client bytes are written one at a time, d
//     apart, as by a server that is alive but paces its bytes; a client's
//     per-read socket timeout never fires.
//   - [Proxy.SetBlackhole]: new connections are accepted and never dialled;
//     existing connections freeze. Bytes in both directions are swallowed and
//     connections stay open. Turning it off resets the frozen connections
//     (their byte streams are no longer in sync) and new connections work.
//   - [Proxy.SetRefuse]: closes the listener, so dials get ECONNREFUSED;
//     turning it off listens again on the same address. Established
//     connections are not touched.
//   - [Proxy.ResetAll]: resets (RST) every open connection.
//
// If the target is down (e.g. a killed MariaDB), accepted connections are
// reset at once; the proxy itself keeps running and serves the target again
// when it comes back on the same address.
//
// # Errors
//
// Errors are prefixed "faultproxy: ". Calls after [Proxy.Close] return
// [ErrClosed].
//
// # Concurrency
//
// A [Proxy] is safe for concurrent use: setters may be called while traffic
// flows. Each connection is served by three goroutines (client→server,
// server→client reader, server→client delayed writer) plus one accept loop;
// [Proxy.Close] closes the listener and every connection and waits for all of
// them, so no goroutine outlives Close.
package faultproxy
