// Package offline reads the offline feature store (batch data and training
// datasets) through the Hopsworks query service over Arrow Flight, from
// whichever region the Active Cluster Arbitrator (ACA) says is active.
//
// The offline store is active-passive (docs/ARCHITECTURE.md, "The
// deployment"): only the active region's query service may serve, the
// standby's crash-loops. So:
//
//   - Every call goes to the region the [ActiveSource] (given to [New])
//     names active at the moment of the call. After a flip, new calls go to
//     the new region; no redeploy, no restart.
//   - While no region is known to be active, calls fail at once with an
//     error wrapping aca.ErrNoActiveRegion and send nothing anywhere,
//     unless the read has [WaitForActive](true), which waits for the ACA,
//     bounded by ctx.
//   - A state that the ACA last confirmed longer ago than
//     [Config.MaxStateAge] (default 10s) is not trusted: the call fails
//     with an error wrapping aca.ErrStale and sends nothing.
//   - The client never reads from a region that is not active, not even
//     when the active one fails. It waits (with a retry), or it reports.
//   - A read that a flip interrupts fails with a [*FlipError]: the region
//     changed while the stream was open, or the stream broke after it
//     changed. [IsRetryable] reports true for it, and for Unavailable.
//
// # The protocol
//
// The calls follow hsfs, python/hsfs/core/arrow_flight_client.py in
// logicalclocks/hopsworks-api:
//
//   - [Client.ReadBatch] gets the feature view's batch query from the
//     active region's metadata through the [QuerySource] ([MetadataQueries]
//     sends both of hsfs's steps there: GET .../query/batch for the query,
//     PUT /project/{id}/featurestores/query?hqs=true for hqsPayload and
//     hqsPayloadSignature). It calls GetFlightInfo with the payload as a
//     command descriptor and no header, then DoGet on the first endpoint's
//     ticket, over the same connection, with the signature in the
//     hopsworks-signature header (_read_query, _get_dataset).
//   - [Client.ReadTrainingDataset] does the same with a path descriptor,
//     and the region's [Certificates]: on the first such read of a
//     connection the client lists the actions and asks get-version; a
//     service that answers gets the certificates JSON ({"kstore",
//     "tstore", "cert_key"}) in the x-certificates-json header of each
//     DoGet, one that does not gets it once with the
//     register-client-certificates action, and again when it answers
//     "Please register client certificates first.".
//   - The connection is TLS, mutual when the Certificates hold a client
//     certificate (_extract_certs).
//   - [Client.Healthcheck] runs the healthcheck action.
//
// Retries follow hsfs too: only Unavailable is retried (and, ours, a flip),
// and never an action that is not idempotent; this client issues only
// reads (and the registration, which hsfs also repeats). A retried read
// restarts from scratch in the region active at that moment. Reads that
// hand batches to the caller as they come (ReadBatch, ReadTrainingDataset)
// retry only until the first batch is handed out: to retry later would
// duplicate rows. ReadBatchAll and ReadTrainingDatasetAll collect the whole
// read and retry it to the end, dropping the partial result of a failed
// attempt, so no row is ever returned twice. See [WithRetry].
//
// # Errors
//
// Every error is prefixed "offline: " and matches a sentinel with
// errors.Is. Sentinels of concepts other packages own are those packages':
//
//   - aca.ErrNoActiveRegion, aca.ErrStale: no active region is known, or
//     the known one is too old; refused before anything was sent.
//   - [ErrClosed], [ErrNoEndpoint], [ErrNoQuerySource],
//     [ErrInvalidArgument], [ErrInvalidConfig]: refused before anything
//     was sent.
//   - [ErrRegionChanged]: a [*FlipError], retryable.
//   - [ErrBatchQuery]: the QuerySource failed; its error (e.g.
//     metadata.ErrNotFound) stays reachable.
//   - [ErrBadQuery], [ErrNotFound], [ErrUnauthorized] (a bad signature or
//     certificates), [ErrUnavailable] (retryable), [ErrTimeout],
//     [ErrServer]: the query service's answer, as a [*RegionError] naming
//     the region and the call. The gRPC status stays reachable:
//     status.FromError and status.Code see it.
//   - [ErrUnhealthy]: added to every query-service error of Healthcheck.
//   - A cancelled or expired ctx: errors.Is(err, context.Canceled) (or
//     DeadlineExceeded) holds; such an error is never retryable.
//
// Certificates and signatures never appear in an error, a log line or a
// span.
//
// # Concurrency
//
// A [Client] is safe for concurrent use; make one and share it. It holds
// one gRPC connection per region, opened on first use and kept until
// [Client.Close], which also cuts short open streams; Close does not close
// the ActiveSource or the QuerySource. A [Reader] is for one goroutine
// (Retain and Release excepted) and must be released by the caller that
// got it; if its ActiveSource can Watch, the Reader runs one goroutine that
// watches for a flip, which the Reader's end stops and Close waits for.
//
// # Telemetry
//
// Telemetry goes only to the providers given with [WithTracerProvider] and
// [WithMeterProvider]; no global is read or set. Each read attempt and
// each healthcheck is a client span named "offline.ReadBatch",
// "offline.ReadTrainingDataset" or "offline.healthcheck", with db.system
// "hopsworks", db.operation.name, tandem.region, server.address,
// tandem.attempt, tandem.feature_view and tandem.feature_view.version (or
// tandem.training_dataset.path), tandem.rows, and on failure error.type
// and an Error status. The metrics, under the scope
// github.com/tandemfs/tandem/offline, are tandem.offline.operation.duration
// (s, a read counted to its last record batch) and tandem.offline.rows,
// with db.operation.name, tandem.outcome (ok or the error.type) and
// tandem.region, and tandem.offline.retries, without attributes. Retries,
// flips and certificate registrations are logged to the [WithLogger]
// logger (default: discarded).
package offline
