// Package metadata is Tandem's client for Hopsworks REST metadata in a
// two-region deployment: the project, the feature store, feature views with
// their features and serving keys, their server-generated prepared
// statements (serving and inference-helper), feature groups' Avro schemas,
// the batch (offline) query of a view and each region's online-store
// credentials. It speaks the protocol of the Hopsworks server and of its
// Python client hsfs; docs/hopsworks.md lists each point with its source
// in the public repositories and the test that checks it.
//
// # Routing
//
// Hopsworks metadata is active-passive (docs/ARCHITECTURE.md): both regions
// serve reads, only the active one takes writes.
//
//   - Reads go to Config.Local. When the local region is down (transport
//     error, timeout, 5xx or 429) they fall back to the other region.
//     Answers that would be the same anywhere (not found, unauthorized, a
//     deleted feature group, malformed, a redirect) do not fall back. Every
//     result names the region that served it.
//   - Writes (CreateFeatureView, DeleteFeatureView) and BatchQuery go to the
//     region the ActiveSource (WithActiveSource, usually an *aca.Client)
//     names as active. With none known they fail with an error wrapping
//     aca.ErrNoActiveRegion, and with a state older than Config.MaxStateAge
//     (after one refresh) with one wrapping aca.ErrStale: the Client never
//     guesses. When the active region refuses a write as read-only (it
//     became passive), the Client refreshes the ACA state once and retries
//     once on the new active region.
//   - BatchQuery is hsfs's two steps, both to the active region: GET
//     .../query/batch returns the view's QueryDTO, and PUT
//     /project/{pid}/featurestores/query?hqs=true turns it into the signed
//     payload for that region's query service. BatchQueryIn pins a region
//     the caller chose.
//   - OnlineStoreCredentials asks the named region only: each region has
//     its own online store connector.
//   - Read-your-writes: after this Client writes a feature view, reads of
//     that view go to the region that took the write until the local region
//     shows the write, or Config.ReadYourWritesBound passes. While a mark
//     is pending, FeatureView asks the local region first and checks that
//     its answer reflects the write (same view id; or not found after a
//     delete), so such reads cost up to two requests until replication
//     catches up.
//
// New does no I/O. The project and feature store are fetched on first use
// and cached for the Client's life. The feature store is named
// strings.ToLower(Config.Project)+"_featurestore", as hsfs names it.
//
// # Errors
//
// Error answers of Hopsworks ({"errorCode","errorMsg","usrMsg"}) become
// *APIError. It unwraps to the sentinel its error code maps to in the
// table Codes, built from the server's RESTCodes.java, whatever the HTTP
// status (PROJECT_NOT_FOUND comes with 400): ErrNotFound, ErrUnauthorized,
// ErrInvalidQuery (FEATUREGROUP_NOT_FOUND 270009 on a view,
// QUERY_FAILED_FG_DELETED 270113 on its statements), ErrOnlineDisabled,
// ErrAlreadyExists. An answer without a known code maps by status (404
// ErrNotFound, 401/403 ErrUnauthorized, 5xx ErrServer); a write refused by
// a passive region also unwraps to ErrReadOnly. Failures without an answer
// are *RegionError wrapping ErrUnavailable, ErrBodyTooLarge (bodies are
// capped at Config.MaxBodyBytes), ErrMalformed or a *RedirectError: the
// Client follows no redirect, so a 3xx never carries the API key or a
// write to another host or scheme. A read that failed in every region
// returns the errors of all of them, joined. Other errors: ErrClosed,
// ErrInvalidArgument, and errors wrapping aca.ErrNoActiveRegion or
// aca.ErrStale. IsRetryable tells which errors may pass on a later try. The
// caller's own cancellation is returned as ctx.Err(). Every message starts
// with "metadata: ".
//
// Decoding is as tolerant as hsfs and the server's Jackson: unknown fields
// and odd values of fields Tandem does not use are ignored, and numbers
// and booleans may come as strings. What Tandem needs (names, versions,
// ids, statement SQL and parameter indexes) fails with ErrMalformed when
// it is missing or unusable.
//
// The API key is sent only in the Authorization header, and only over
// https unless Config.AllowInsecureHTTP is set. It never appears in an
// error, a log line or a span; Config's String and LogValue redact it. The
// online store's password is redacted by OnlineCredentials' String,
// GoString and LogValue and never appears in an error.
//
// # Concurrency
//
// A Client is safe for concurrent use by many goroutines. It starts no
// goroutines. Close cancels calls in flight and makes later calls return
// ErrClosed; it does not close an *http.Client given with WithHTTPClient
// (the Client uses a copy of it that refuses redirects). Values the Client
// returns are the caller's: fresh copies, not shared with the Client.
//
// # Telemetry
//
// Each HTTP request is a client span named "metadata <Op>" (Op is e.g.
// GetFeatureView, GetPreparedStatements, GetInferenceHelperStatements,
// GetBatchQuery, ConstructQuery, GetAvroSchema, GetOnlineConnector,
// GetVariable, CreateFeatureView) with the http.request.method,
// server.address, server.port, url.scheme, http.response.status_code,
// error.type, tandem.region and tandem.metadata.op attributes. Metrics:
// tandem.metadata.requests (counter, by region, op and outcome),
// tandem.metadata.request.duration (histogram, seconds),
// tandem.metadata.fallbacks (reads that moved to another region) and
// tandem.metadata.write_redirects (writes retried on a new active region
// after a read-only refusal). Providers default to no-op ones; no global
// is read.
package metadata
