// Package metadata is Tandem's client for Hopsworks REST metadata in a
// two-region deployment: the project, the feature store, feature views with
// their features and serving keys, their server-generated prepared
// statements, and the batch (offline) query of a view.
//
// # Routing
//
// Hopsworks metadata is active-passive (DESIGN.md §1): both regions serve
// reads, only the active one takes writes.
//
//   - Reads go to Config.Local. When the local region is down (transport
//     error, timeout, 5xx or 429) they fall back to the other region.
//     Answers that would be the same anywhere (404, 401, 270009, malformed)
//     do not fall back. Every result names the region that served it.
//   - Writes (CreateFeatureView, DeleteFeatureView) go to the region the
//     ActiveSource (WithActiveSource, usually an *aca.Client) names as
//     active. With none known they fail with ErrNoActiveRegion: the Client
//     never guesses. When the active region refuses a write as read-only
//     (it became passive), the Client refreshes the ACA state once and
//     retries once on the new active region.
//   - Read-your-writes: after this Client writes a feature view, reads of
//     that view go to the region that took the write until the local region
//     shows the write, or Config.ReadYourWritesBound passes. While a mark
//     is pending, FeatureView asks the local region first and checks that
//     its answer reflects the write (same view id; or 404 after a delete), so
//     such reads cost up to two requests until replication catches up.
//   - BatchQuery asks the active region only: the offline store is
//     active-passive and its payload is signed for that region's query
//     service. BatchQueryIn pins a region the caller chose.
//
// New does no I/O. The project and feature store are fetched on first use
// and cached for the Client's life.
//
// # Errors
//
// Error answers of Hopsworks ({"errorCode","errorMsg","usrMsg"}) become
// *APIError, which unwraps to ErrNotFound (404), ErrUnauthorized (401/403,
// e.g. an expired API key), ErrInvalidQuery (error 270009), ErrServer (5xx)
// and, for refused writes, ErrReadOnly. Failures without an answer are
// *RegionError wrapping ErrUnavailable, ErrBodyTooLarge (bodies are capped
// at Config.MaxBodyBytes) or ErrMalformed. A read that failed in every
// region returns the errors of all of them, joined. Other sentinels:
// ErrNoActiveRegion, ErrClosed, ErrInvalidArgument. IsRetryable tells
// which errors may pass on a later try. The caller's own cancellation is
// returned as ctx.Err().
//
// The API key is sent only in the Authorization header. It never appears
// in an error, a log line or a span; Config's String and LogValue redact it.
//
// # Concurrency
//
// A Client is safe for concurrent use by many goroutines. It starts no
// goroutines. Close cancels calls in flight and makes later calls return
// ErrClosed; it does not close an *http.Client given with WithHTTPClient.
//
// # Telemetry
//
// Each HTTP request is a client span ("metadata <Op>") with the
// http.request.method, server.address, server.port,
// http.response.status_code, error.type and tandem.region attributes, and
// is counted in tandem.metadata.requests and
// tandem.metadata.request.duration. Fallbacks and write redirects have
// their own counters. Providers default to no-op ones; no global is used.
package metadata
