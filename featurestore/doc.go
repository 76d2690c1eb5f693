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
// single and batch prepared statements (and those of its inference helper
// columns), validated and prepared — and returns a [FeatureView] handle.
// Lookups through the handle need neither metadata nor the ACA:
//
//	fv, err := client.FeatureView(ctx, "fraud", 1)
//	v, err := fv.GetFeatureVector(ctx, map[string]any{"cc_num": 4467})
//	b, err := fv.GetFeatureVectors(ctx, entries)
//	h, err := fv.GetInferenceHelper(ctx, map[string]any{"cc_num": 4467})
//
// # Online store and credentials
//
// Each region's MySQL servers are given in Config.Regions[].MySQL, or
// discovered as hsfs does it: the address, user and password come from
// that region's "onlinefeaturestore" storage connector (and, with
// Config.External, the host from its loadbalancer_external_domain_mysqld
// variable), read on the first plan load. RegionConfig.TLS secures the
// connections. An API key is only sent over https, unless
// Config.AllowInsecureHTTP says otherwise (tests on loopback).
//
// # Vectors
//
// An entry gives the serving keys as hsfs names them
// (ServingKey.required_serving_key, python/hsfs/serving_key.py in
// logicalclocks/hopsworks-api): prefix+featureName for a required key,
// otherwise the feature of the left group it joins on. A feature group
// that contributes only labels has no statement; its keys are accepted and
// not read. [WithKeyAliases] also accepts prefix+column and the plain
// column name, unless that is another key's name. A composite key of one
// feature group is given whole or not at all (and then every feature of
// the group must be passed, or [AllowMissing] given). Key values are
// checked against the column type and normalised (int, int32, an integral
// float64 from JSON… all become int64), so batch rows match back whatever
// Go type the caller used.
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
// a status: [Present], [Missing] (no row, or its key left out under
// AllowMissing: its features are nil) or [Skipped]. A missing row is not
// an error, and a batch never drops an entity.
//
// Values are what the online store returns (see online.Rows), except
// complex features (arrays, maps, structs), which RonDB holds as Avro
// binary: they are decoded with the feature group's Avro schema into
// []any and map[string]any (see complex.go). DECIMAL values come from
// online exactly, as online decodes them; they are passed through.
// Embedding feature groups are read by hsfs from the vector database; a
// lookup that would read one fails with an *[UnsupportedError].
//
// By default all of a vector's (or a batch's) statements run in ONE
// online group: concurrently on one server, hedged together to another
// server or region, so a vector never mixes regions (docs/ARCHITECTURE.md
// §4). [PerStatementHedging] hedges each feature group on its own; such
// vectors may mix regions and say so (Vector.MixedRegions, and the
// tandem.featurestore.vectors.mixed counter). [Pin] reads one region only,
// for read-your-writes.
//
// # Plans and static stability
//
// At load, every statement's select list is read and checked: a feature
// of the vector (or a batch key column) that its group's statement does
// not select fails the load with [ErrInvalidPlan], not a later read.
// Plans are cached for Config.PlanTTL (a golang-lru cache whose TTL is
// checked on read, so no goroutine runs per cache) and refreshed in the
// background at half of it. A failed refresh keeps the last good plan
// (logged, counted in tandem.featurestore.plan.refresh_errors): a known
// view keeps serving however long metadata is down (docs/ARCHITECTURE.md
// §5). Config.MaxPlans caps the views the Client remembers; past it the
// least recently used is forgotten. Concurrent loads of one view are
// coalesced (singleflight) and run on the Client's context, so one
// caller's cancel does not fail the others. CreateFeatureView and
// DeleteFeatureView drop the cached plan of the view they wrote.
//
// # Errors
//
// Errors are prefixed "featurestore: " and wrap sentinels to branch on
// with errors.Is. Bad entries give a *[KeyError] that unwraps to
// [ErrUnknownServingKey], [ErrMissingServingKey], [ErrPartialCompositeKey]
// or [ErrKeyType]; a passed feature the view lacks gives
// [ErrUnknownFeature]. Metadata that cannot be served gives
// [ErrInvalidPlan]; a view that needs what Tandem does not read gives an
// *[UnsupportedError] ([ErrUnsupported]). Sentinels of the packages that
// own them are re-exported, the same values: [ErrNotFound] (unknown
// feature view), [ErrUnauthorized] (e.g. an expired API key),
// [ErrInvalidQuery], [ErrMalformed], [ErrBodyTooLarge] (metadata's),
// [ErrNoActiveRegion] (the ACA's: a write with no active region known),
// [ErrUnknownRegion] (online's: a Pin to an unknown region).
// [ErrUnavailable] matches a metadata region that could not be reached and
// an online read that no server of any region could serve (a total
// outage). Online read errors keep the online package's errors
// (*online.RegionError, and the driver's *mysql.MySQLError) reachable
// with errors.As. [IsRetryable] tells transient failures, online or
// metadata, from the rest. After Close every call returns [ErrClosed].
// The API key, the MySQL password and discovered passwords never appear
// in an error, a log line, a span or Config's String.
//
// # Concurrency
//
// Client and FeatureView are safe for concurrent use. The Client runs a
// background goroutine for plan refresh on a context it owns, plus the
// plan loads in flight (and the goroutines of the parts it creates: see
// aca, metadata and online); Close cancels them and waits. Vectors,
// batches and inference helper maps belong to the caller, except
// Vector.Names and Batch.Names, which are shared with the plan and
// read-only, as database/sql documents RawBytes (FeatureView.Features
// returns a copy).
//
// # Who closes what
//
// Close closes what New (or the first load, for a discovered online
// store) opened: the online store, the metadata client and the ACA client.
// Parts given with [WithOnline], [WithMetadata] or [WithACA] are the
// caller's to close (after the Client). A FeatureView needs no closing.
//
// # Telemetry
//
// Spans "featurestore.GetFeatureVector", "featurestore.GetFeatureVectors",
// "featurestore.GetInferenceHelper" and "featurestore.GetInferenceHelpers"
// carry tandem.feature_view, tandem.feature_view.version,
// tandem.feature_groups, tandem.region, tandem.hedged,
// tandem.mixed_regions, tandem.complete, tandem.cached (single),
// tandem.entities, tandem.entities.unique, tandem.entities.missing
// (batch) and error.type. Metrics: the counters
// tandem.featurestore.lookups, tandem.featurestore.entities,
// tandem.featurestore.entities.missing, tandem.featurestore.vectors.mixed,
// tandem.featurestore.plan.loads, tandem.featurestore.plan.refresh_errors,
// tandem.featurestore.cache (by tandem.cache.result) and
// tandem.featurestore.rows.unmatched, and the histogram
// tandem.featurestore.duration (seconds, by tandem.lookup and
// tandem.error). Providers come from [WithTracerProvider] and
// [WithMeterProvider] (no-op by default; no global is used) and are
// passed to the parts New creates.
package featurestore
