// Package flighttest runs an in-process Arrow Flight server that stands in
// for one region's Hopsworks query service in tests, plus the small fakes a
// test of package offline needs around it: an ACA ([Arbiter]) and a batch
// query source that signs its payloads ([Signer], [QueryFunc]).
//
// The server is built on arrow-go's flight server and listens on
// 127.0.0.1:0, in plaintext or, with [Config.TLS], TLS (mutual when the
// configuration asks for client certificates). It serves an in-memory table
// per feature view (and per training-dataset path), filtering rows by an
// event-time column with the start and end it reads from the command
// payload, so a test can see that the time range really travelled through
// the client. It can be told to be unready (a standby: every call answers
// Unavailable), unhealthy, to hang, or to drop or stall a stream half way.
// It records every request with the headers it carried, so tests can
// assert on the server side that a standby was never called and which call
// carried what.
//
// # What it checks
//
// The query service's source is not public, so the server checks what the
// hsfs client shows it needs (python/hsfs/core/arrow_flight_client.py in
// logicalclocks/hopsworks-api):
//
//   - GetFlightInfo carries no header in hsfs (_get_flight_info): none is
//     required.
//   - DoGet of a command ticket carries hopsworks-signature (_read_query):
//     with [Config.Verify] set it is required and checked against the
//     payload (Unauthenticated when missing, PermissionDenied when wrong).
//   - DoGet of a path ticket (a training dataset, _read_path) needs the
//     project's certificates, the JSON of [Certificates]: in the
//     x-certificates-json header when the server has a [Config.Version]
//     (it then lists and answers get-version, _get_server_version and
//     _certificates_headers), else registered on the same connection
//     beforehand with the register-client-certificates action
//     (_register_certificates); an unregistered read gets codes.Unknown
//     with [RegisterFirstMessage], the text hsfs's _handle_afs_exception
//     looks for. [Config.CheckCertificates] may refuse certificates that
//     parse (PermissionDenied).
//   - ListActions lists healthcheck, register-client-certificates and,
//     with a version, get-version.
//
// The payload format ([Query], JSON) is this package's own: the client
// treats a payload as opaque bytes, as it does with a real hqsPayload.
// [Config.Decode] lets the server read another fake's payload instead.
//
// # Errors
//
// Calls fail with gRPC status errors, as a query service's do; [Start]
// fails only when it cannot listen. [ParseCertificates] returns plain
// errors for malformed certificate JSON.
//
// # Concurrency
//
// Every exported method of [Server], [Arbiter] and [Signer] is safe for
// concurrent use. Whoever calls [Start] calls [Server.Close], which waits
// for the server's goroutines.
package flighttest
