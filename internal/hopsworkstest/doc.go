// Package hopsworkstest is a fake Hopsworks REST server for tests, on
// httptest. It serves the endpoints Tandem uses with the JSON shapes of the
// real server (the camelCase Java DTOs):
//
//   - GET  /project/getProjectInfo/{name}
//   - GET  /project/{pid}/featurestores/{name}_featurestore
//   - GET  /project/{pid}/featurestores/{fsid}/featureview/{name}/version/{v}[?expand=features&expand=query]
//   - GET  .../featureview/{name}/version/{v}/preparedstatement?batch=false|true
//   - GET  .../featureview/{name}/version/{v}/query/batch?start_time=&end_time=
//   - POST /project/{pid}/featurestores/{fsid}/featureview
//   - DELETE .../featureview/{name}/version/{v}
//
// It checks "Authorization: ApiKey <key>" (401 with a Hopsworks error JSON
// otherwise, or when told the key expired), knows its region and whether it
// is active (a passive server refuses writes, with HTTP 503 by default, and
// records them as refused), and records every request so tests can prove
// that no write reached a passive region.
//
// Prepared statements are generated the way Hopsworks'
// PreparedStatementBuilder does (see Statements); they run on MariaDB
// tables a test creates as `{lower(project)}`.`{fg}_{version}`.
//
// Two servers that share one Store model two replicated regions: a write
// is seen at once in the region that took it and after the Store's
// replication lag elsewhere.
//
// Failure modes: SetFault (503 for everything, hang, connection reset),
// Close (connection refused), FailPath (a Hopsworks error for matching
// paths), RespondRaw (any body, e.g. malformed or oversized JSON),
// SetKeyExpired, Store.InvalidateFeatureView (error 270009).
//
// The batch query's hqsPayload is a JSON BatchPayload; its signature is
// hex(HMAC-SHA256) with a per-server secret, checked by VerifySignature.
//
// # Errors
//
// Test-setup mistakes (an invalid FeatureViewDef given to AddFeatureView)
// panic. Everything else is reported over HTTP as Hopsworks does:
// {"errorCode","errorMsg","usrMsg"}.
//
// # Concurrency
//
// Server and Store are safe for concurrent use. Close a Server when done;
// it releases requests hanging under FaultHang first.
package hopsworkstest
