// Package featurestore is Tandem's entry point: it reads feature vectors
// of Hopsworks feature views from the online stores (RonDB, over MySQL) of
// two regions as if they were one, and reads and writes feature view
// metadata in the region that may take it.
//
// A [Client] wires three parts: a metadata.Client (Hopsworks REST, reads
// in the local region with fallback, writes in the active region), an
// aca.Client (which region is active) and an online.Store (hedged reads
// over every region's MySQL servers). [Client.FeatureView] loads a view's
// serving plan — its features, serving keys and the server-generated
// single and batch prepared statements, validated and prepared — and
// returns a [FeatureView] handle. Lookups through the handle need neither
// metadata nor the ACA:
//
//	fv, err := client.FeatureView(ctx, "fraud", 1)
//	v, err := fv.GetFeatureVector(ctx, map[string]any{"cc_num": 4467})
//	b, err := fv.GetFeatureVectors(ctx, entries)
//
// # Vectors
//
// An entry gives the serving keys (DESIGN.md §3 "Vector semantics"):
// prefix+featureName for a required key, otherwise the feature it joins
// on; the plain feature name is accepted too when it names no other key.
// A composite key of one feature group is given whole or not at all (and
// then every feature of the group must be passed). Key values are checked
// against the column type and normalised (int, int32, an integral float64
// from JSON… all become int64), so batch rows match back whatever Go type
// the caller used.
//
// Batch rows are matched back to entries by their key columns. String
// keys that match no entry exactly are then matched ignoring case and
// trailing spaces, as MySQL's default collations compare (and as the
// single-vector "=" does); with a case-sensitive collation, an entry 'us'
// in the same batch as 'US' would get the 'US' row. Rows that match no
// entry are counted (Batch.Unmatched, tandem.featurestore.rows.unmatched).
//
// The vector holds the view's features sorted by index, without labels
// and inference or training helper columns; passed features
// ([WithPassedFeatures]) override fetched values. Each feature group has
// a status: [Present], [Missing] (no row: its features are nil) or
// [Skipped]. A missing row is not an error, and a batch never drops an
// entity.
//
// By default all of a vector's (or a batch's) statements run in ONE
// online group: concurrently on one server, hedged together to another
// server or region, so a vector never mixes regions (DESIGN.md §4 rule
// 9). [PerStatementHedging] hedges each feature group on its own; such
// vectors may mix regions and say so (Vector.MixedRegions, and the
// tandem.featurestore.vectors.mixed counter). [Pin] reads one region only,
// for read-your-writes.
//
// # Plans and static stability
//
// Plans are cached for Config.PlanTTL (a golang-lru cache whose TTL is
// checked on read, so no goroutine runs per cache) and refreshed in the
// background at half of it. A failed refresh keeps the last good
// plan (logged, counted in tandem.featurestore.plan.refresh_errors): a
// known view keeps serving however long metadata is down (DESIGN.md §5).
// Concurrent loads of one view are coalesced (singleflight) and run on
// the Client's context, so one caller's cancel does not fail the others.
// CreateFeatureView and DeleteFeatureView drop the cached plan of the view
// they wrote.
//
// # Errors
//
// Errors are prefixed "featurestore: ". Bad entries give a *[KeyError]
// that unwraps to [ErrUnknownServingKey], [ErrMissingServingKey],
// [ErrPartialCompositeKey] or [ErrKeyType]; a passed feature the view
// lacks gives [ErrUnknownFeature]. Metadata errors keep their
// metadata sentinels, re-exported here: [ErrNotFound] (unknown feature
// view), [ErrUnauthorized] (e.g. an expired API key), [ErrInvalidQuery],
// [ErrMalformed], [ErrBodyTooLarge], [ErrUnavailable], [ErrNoActiveRegion]
// (a write with no active region known). Metadata that cannot be served
// gives [ErrInvalidPlan]. Online read errors wrap the online package's
// errors (*online.RegionError, and the driver's *mysql.MySQLError, reach
// them with errors.As; online.IsRetryable tells transient ones). After
// Close every call returns [ErrClosed].
//
// # Concurrency
//
// Client and FeatureView are safe for concurrent use. The Client runs one
// background goroutine (plan refresh) on a context it owns, plus the plan
// loads in flight; Close cancels them and waits. Vectors and batches
// belong to the caller, except Names, which is shared and read-only.
//
// # Who closes what
//
// Close closes what New opened: the online store, the metadata client and
// the ACA client it created, and the caches' timers. Parts given with
// [WithOnline], [WithMetadata] or [WithACA] are the caller's to close
// (after the Client). A FeatureView needs no closing.
//
// # Telemetry
//
// Spans "featurestore.GetFeatureVector" and "featurestore.GetFeatureVectors"
// carry tandem.feature_view, tandem.feature_view.version, tandem.region,
// tandem.hedged, tandem.mixed_regions and error.type; counters count
// lookups and entities, missing entities, mixed-region lookups, plan
// loads and refresh errors, and vector cache hits and misses. Providers
// come from [WithTracerProvider] and [WithMeterProvider] (no-op by
// default; no global is used) and are passed to the parts New creates.
package featurestore
