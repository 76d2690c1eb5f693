// Package flighttest runs an in-process Arrow Flight server that stands in
// for one region's Hopsworks query service in tests, plus the small fakes a
// test of package offline needs around it: an ACA ([Arbiter]) and a batch
// query source that signs its payloads ([Signer], [QueryFunc]).
//
// The server is built on arrow-go's flight server and listens on
// 127.0.0.1:0. It serves an in-memory table per feature view (and per
// training-dataset path), filtering rows by an event-time column with the
// start and end it reads from the command payload, so a test can see that
// the time range really travelled through the client. It checks the
// hopsworks-signature header with the verify function it is given, and it
// can be told to be unready (a standby: every call answers Unavailable),
// unhealthy, to hang, or to drop or stall a stream half way. It records
// every request, so tests can assert on the server side that a standby was
// never called.
//
// The payload format ([Query], JSON) is this package's own: the client
// treats a payload as opaque bytes, as it does with a real hqsPayload.
//
// # Concurrency
//
// Every exported method of [Server], [Arbiter] and [Signer] is safe for
// concurrent use. Whoever calls [Start] calls [Server.Close].
package flighttest
