// Package offline reads the offline feature store (batch data and training
// datasets) through the Hopsworks query service over Arrow Flight, from
// whichever region the Active Cluster Arbitrator (ACA) says is active.
//
// The offline store is active-passive (DESIGN.md §1): only the active
// region's query service may serve, the standby's crash-loops. So:
//
//   - Every call goes to the region the [ActiveSource] names active at the
//     moment of the call. After a flip, new calls go to the new region; no
//     redeploy, no restart.
//   - While no region is known to be active, calls fail at once with
//     [ErrNoActiveRegion] and send nothing anywhere, unless the read has
//     [WaitForActive](true), which waits for the ACA, bounded by ctx.
//   - The client never reads from a region that is not active, not even
//     when the active one fails. It waits (with a retry), or it reports.
//   - A read that a flip interrupts fails with a [*FlipError]: the region
//     changed while the stream was open, or the stream broke after it
//     changed. [IsRetryable] reports true for it, and for Unavailable.
//
// A read ([Client.ReadBatch]) follows hsfs core/arrow_flight_client.py:
// it fetches the feature view's batch query (hqsPayload and
// hqsPayloadSignature) from the active region's metadata through the
// [QuerySource]; calls GetFlightInfo with the payload as a command
// descriptor and the signature in the gRPC header hopsworks-signature; and
// calls DoGet on the first endpoint's ticket, over the same connection.
// [Client.ReadTrainingDataset] does the same with a path descriptor and no
// batch query. [Client.Healthcheck] runs the healthcheck action.
//
// Retries follow hsfs too: only Unavailable is retried (and, ours, a flip),
// and never an action that is not idempotent; this client issues only
// reads. A retried read restarts from scratch in the region active at that
// moment. Reads that hand batches to the caller as they come (ReadBatch,
// ReadTrainingDataset) retry only until the first batch is handed out: to
// retry later would duplicate rows. ReadBatchAll and
// ReadTrainingDatasetAll collect the whole read and retry it to the end,
// dropping the partial result of a failed attempt, so no row is ever
// returned twice. See [WithRetry].
//
// # Errors
//
// Every error is prefixed "offline: " and matches a sentinel with
// errors.Is:
//
//   - [ErrClosed], [ErrNoActiveRegion], [ErrNoEndpoint],
//     [ErrNoQuerySource], [ErrInvalidArgument], [ErrInvalidConfig]: refused
//     before anything was sent.
//   - [ErrRegionChanged]: a [*FlipError], retryable.
//   - [ErrBatchQuery]: the QuerySource failed; its error stays reachable.
//   - [ErrBadQuery], [ErrNotFound], [ErrUnauthorized], [ErrUnavailable]
//     (retryable), [ErrTimeout], [ErrServer]: the query service's answer,
//     as a [*RegionError] naming the region and the call. The gRPC status
//     stays reachable: status.FromError and status.Code see it.
//   - [ErrUnhealthy]: added to every query-service error of Healthcheck.
//   - A cancelled or expired ctx: errors.Is(err, context.Canceled) (or
//     DeadlineExceeded) holds; such an error is never retryable.
//
// # Concurrency
//
// A [Client] is safe for concurrent use; make one and share it. It holds
// one gRPC connection per region, opened on first use and kept until
// [Client.Close], which also cuts short open streams. A [Reader] is for one
// goroutine (Retain and Release excepted) and must be released by the
// caller that got it; if its ActiveSource can Watch, the Reader runs one
// goroutine that watches for a flip, which the Reader's end stops.
//
// Telemetry goes only to the providers given with [WithTracerProvider] and
// [WithMeterProvider]; no global is read or set.
package offline
