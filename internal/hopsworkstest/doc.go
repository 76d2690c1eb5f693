// Package hopsworkstest is a fake Hopsworks REST server for tests, on
// httptest. It serves the endpoints Tandem uses with the JSON shapes of the
// real server, the camelCase Java DTOs of logicalclocks/hopsworks (each
// shape in wire.go names its class; dto_test.go checks the field names and
// types against them), and takes requests as hsfs sends them:
//
//   - GET  /project/getProjectInfo/{name}                     ProjectDTO
//   - GET  /project/{pid}/featurestores/{id | lower-case name} FeaturestoreDTO
//   - GET  .../featurestores/{fsid}/featureview/{name}/version/{v}[?expand=features&expand=query] FeatureViewDTO
//   - GET  .../featureview/{name}/version/{v}/preparedstatement?batch=&inference_helper_columns= ServingPreparedStatementDTO
//   - GET  .../featureview/{name}/version/{v}/query/batch?start_time=&end_time= QueryDTO
//   - PUT  /project/{pid}/featurestores/query?hqs=true        FsQueryDTO with hqsPayload, hqsPayloadSignature
//   - GET  .../featurestores/{fsid}/storageconnectors/onlinefeaturestore FeaturestoreJdbcConnectorDTO
//   - GET  .../featurestores/{fsid}/kafka/subjects/{fg}_{v}/versions/latest SubjectDTO (the Avro schema)
//   - GET  /variables/{name}                                  RESTApiJsonResponse.successMessage
//   - POST /project/{pid}/featurestores/{fsid}/featureview    FeatureViewDTO
//   - DELETE .../featureview/{name}/version/{v}
//   - and the transformation-function and statistics shapes of transformations.go.
//
// The feature store route matches lower case only, as the server's
// (FeaturestoreService.java); an upper-case name gets a bare 404.
//
// It checks "Authorization: ApiKey <key>" (401 with KEY_NOT_FOUND,
// KEY_INVALID or, after SetKeyExpired, KEY_NOT_FOUND_IN_DATABASE), knows
// its region and whether it is active (a passive server refuses writes,
// with HTTP 503 by default, and records them as refused; the query
// constructor's PUT writes nothing and is served), and records every
// request so tests can prove that no write reached a passive region.
// Options.TLS serves https (trust it with Client).
//
// Prepared statements are generated as PreparedStatementBuilder.java does
// (see StatementsFor): no labels or helper columns, batch keys under the
// prefix alias, the inference-helper form. Serving keys are derived as
// FeatureViewController.getServingKeys does. They run on MariaDB tables a
// test creates as `{lower(project)}`.`{fg}_{version}`. Avro schemas are
// built as AvroSchemaConstructorController.java builds them (AvroSchema).
//
// Two servers that share one Store model two replicated regions: a write
// is seen at once in the region that took it and after the Store's
// replication lag elsewhere.
//
// Failure modes: SetFault (503 for everything, hang, connection reset),
// Close (connection refused), FailPath (a Hopsworks error for matching
// paths), RespondRaw (any body, e.g. malformed or oversized JSON),
// SetKeyExpired, Store.InvalidateFeatureView (a deleted feature group:
// FEATUREGROUP_NOT_FOUND 270009 on the view, QUERY_FAILED_FG_DELETED 270113
// on its statements and batch query).
//
// The batch query's hqsPayload is a JSON BatchPayload (the real payload is
// the server's own business); its signature is hex(HMAC-SHA256) with a
// per-server secret, checked by VerifySignature.
//
// # Errors
//
// Test-setup mistakes (an invalid FeatureViewDef given to AddFeatureView)
// panic. Everything else is reported over HTTP as Hopsworks does:
// {"errorCode","errorMsg","usrMsg"} with the code and status of
// RESTCodes.java (the Code constants).
//
// # Concurrency
//
// Server and Store are safe for concurrent use. Close a Server when done;
// it releases requests hanging under FaultHang first.
package hopsworkstest
