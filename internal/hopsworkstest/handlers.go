package hopsworkstest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// errorJSON is the error body of Hopsworks REST: JsonResponse's errorCode,
// errorMsg and usrMsg (hopsworks-rest-utils/src/main/java/io/hops/hopsworks/restutils/JsonResponse.java).
type errorJSON struct {
	ErrorCode int    `json:"errorCode,omitempty"`
	ErrorMsg  string `json:"errorMsg"`
	UsrMsg    string `json:"usrMsg,omitempty"`
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, errorJSON{ErrorCode: code, ErrorMsg: msg, UsrMsg: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// javaBool parses a boolean query parameter as JAX-RS does
// (Boolean.valueOf: "true" in any case is true, anything else false).
func javaBool(r *http.Request, name string) bool {
	return strings.EqualFold(r.URL.Query().Get(name), "true")
}

// checkIDs validates the project and feature store ids in the path: an
// unknown project is PROJECT_NOT_FOUND (HTTP 400), an unknown feature
// store FEATURESTORE_NOT_FOUND (HTTP 404).
func (s *Server) checkIDs(w http.ResponseWriter, r *http.Request, withFS bool) bool {
	if r.PathValue("pid") != strconv.FormatInt(s.store.pid, 10) {
		writeError(w, http.StatusBadRequest, CodeProjectNotFound, "Project wasn't found.")
		return false
	}
	if withFS && r.PathValue("fsid") != strconv.FormatInt(s.store.fsid, 10) {
		writeError(w, http.StatusNotFound, CodeFeatureStoreNotFound, "Featurestore wasn't found.")
		return false
	}
	return true
}

// getProject serves ProjectDTO (hopsworks-common/.../project/ProjectDTO.java).
func (s *Server) getProject(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("name") != s.store.project {
		writeError(w, http.StatusBadRequest, CodeProjectNotFound, "Project wasn't found.")
		return
	}
	writeJSON(w, http.StatusOK, projectJSON{
		ProjectID: s.store.pid, ProjectName: s.store.project, Owner: "admin@hopsworks.ai",
		Created: "2024-01-16T10:00:00Z", Services: []string{"JOBS", "FEATURESTORE"},
	})
}

// fsNameRoute is the route regex of FeaturestoreService.java
// (@Path("/{name: [a-z0-9_]*(?=[a-z])[a-z0-9_]+}")): lower case only, at
// least one letter.
var fsNameRoute = regexp.MustCompile(`^[a-z0-9_]*[a-z][a-z0-9_]*$`)

// getFeatureStore serves FeaturestoreDTO, by id or by lower-case name.
func (s *Server) getFeatureStore(w http.ResponseWriter, r *http.Request) {
	if !s.checkIDs(w, r, false) {
		return
	}
	fs := r.PathValue("fs")
	switch {
	case regexp.MustCompile(`^[0-9]+$`).MatchString(fs):
		if fs != strconv.FormatInt(s.store.fsid, 10) {
			writeError(w, http.StatusNotFound, CodeFeatureStoreNotFound, "Featurestore wasn't found.")
			return
		}
	case !fsNameRoute.MatchString(fs):
		// No route matches (e.g. upper case): a bare 404, no Hopsworks code.
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	case fs != s.store.fsName():
		writeError(w, http.StatusNotFound, CodeFeatureStoreNotFound, "Featurestore wasn't found.")
		return
	}
	writeJSON(w, http.StatusOK, featureStoreJSON{
		FeaturestoreID: s.store.fsid, FeaturestoreName: s.store.fsName(), Created: "2024-01-16T10:00:00Z",
		ProjectName: s.store.project, ProjectID: s.store.pid,
		OnlineFeaturestoreName: s.store.Database(), OfflineFeaturestoreName: s.store.fsName(),
		OnlineEnabled: true,
	})
}

// lookupView resolves {name}/version/{v}, answering the errors itself. A
// view whose feature group was deleted answers gone (FEATUREGROUP_NOT_FOUND
// on the view itself, QUERY_FAILED_FG_DELETED where a query is built).
func (s *Server) lookupView(w http.ResponseWriter, r *http.Request, goneStatus, goneCode int) (FeatureViewDef, int64, bool) {
	if !s.checkIDs(w, r, true) {
		return FeatureViewDef{}, 0, false
	}
	name := r.PathValue("name")
	v, err := strconv.Atoi(r.PathValue("v"))
	if err != nil {
		http.Error(w, "Not Found", http.StatusNotFound)
		return FeatureViewDef{}, 0, false
	}
	d, id, ok := s.store.view(s.region, name, v)
	if !ok {
		writeError(w, http.StatusNotFound, CodeFeatureViewNotFound, "Feature view wasn't found.")
		return FeatureViewDef{}, 0, false
	}
	if s.store.isInvalid(name, v) {
		msg := "Cannot generate query, some feature groups were deleted"
		if goneCode == CodeFeatureGroupNotFound {
			msg = "Featuregroup wasn't found."
		}
		writeError(w, goneStatus, goneCode, msg)
		return FeatureViewDef{}, 0, false
	}
	return d, id, true
}

func (s *Server) getView(w http.ResponseWriter, r *http.Request) {
	d, id, ok := s.lookupView(w, r, http.StatusNotFound, CodeFeatureGroupNotFound)
	if !ok {
		return
	}
	has := func(x string) bool {
		for _, e := range r.URL.Query()["expand"] {
			if strings.EqualFold(e, x) {
				return true
			}
		}
		return false
	}
	view := s.store.viewJSON(d, id, has("features"), has("query"))
	writeJSON(w, http.StatusOK, s.store.withTransformations(d, view, has("transformationfunctions"), has("features"))) // transformations.go
}

// getStatements serves ServingPreparedStatementDTO
// (PreparedStatementResource.java: batch, inference_helper_columns).
func (s *Server) getStatements(w http.ResponseWriter, r *http.Request) {
	d, _, ok := s.lookupView(w, r, http.StatusBadRequest, CodeQueryFailedFGDeleted)
	if !ok {
		return
	}
	sts, err := StatementsFor(s.store.project, d, StatementOptions{
		Batch: javaBool(r, "batch"), InferenceHelperColumns: javaBool(r, "inference_helper_columns"),
	})
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeOnlineNotEnabled, err.Error())
		return
	}
	if sts == nil {
		sts = []Statement{}
	}
	writeJSON(w, http.StatusOK, statementListJSON{
		Href:  s.URL() + strings.TrimPrefix(r.URL.Path, APIPath) + "s",
		Items: sts, Count: len(sts),
	})
}

// getBatchQuery is step one of an offline read (QueryResource.java
// constructBatchQuery): the view's query as a QueryDTO, with the event
// time bounds as leftFeatureGroupStartTime/EndTime.
func (s *Server) getBatchQuery(w http.ResponseWriter, r *http.Request) {
	d, _, ok := s.lookupView(w, r, http.StatusBadRequest, CodeQueryFailedFGDeleted)
	if !ok {
		return
	}
	q := r.URL.Query()
	var times [2]*int64
	for i, k := range []string{"start_time", "end_time"} {
		if v := q.Get(k); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				// A Long @QueryParam that does not parse: JAX-RS answers 404.
				http.Error(w, "Not Found", http.StatusNotFound)
				return
			}
			times[i] = &n
		}
	}
	opts := batchOptions{
		withLabel: javaBool(r, "with_label"), inferenceHelpers: javaBool(r, "inference_helper_columns"),
		trainingHelpers: javaBool(r, "training_helper_columns"), hiveEngine: javaBool(r, "is_hive_engine"),
	}
	writeJSON(w, http.StatusOK, s.store.batchQueryJSON(d, times[0], times[1], opts))
}

// constructQuery is step two (FsQueryConstructorResource.java, PUT
// /project/{pid}/featurestores/query?hqs=true): it takes a QueryDTO and
// answers an FsQueryDTO; with hqs=true it carries hqsPayload and
// hqsPayloadSignature, which hsfs reads (python/hsfs/constructor/fs_query.py)
// though the public server's FsQueryDTO.java does not show them.
func (s *Server) constructQuery(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("pid") != strconv.FormatInt(s.store.pid, 10) {
		writeError(w, http.StatusBadRequest, CodeProjectNotFound, "Project wasn't found.")
		return
	}
	var q queryJSON
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&q); err != nil {
		writeError(w, http.StatusUnprocessableEntity, CodeIllegalArgument, "Please submit a query to construct")
		return
	}
	if q.LeftFeatureGroup == nil {
		writeError(w, http.StatusUnprocessableEntity, CodeIllegalArgument, "Please submit a query to construct")
		return
	}
	d, ok := s.store.viewByQuery(s.region, &q)
	if !ok {
		writeError(w, http.StatusNotFound, CodeFeatureGroupNotFound, "Featuregroup wasn't found.")
		return
	}
	out := fsQueryJSON{Query: s.store.offlineSQL(d, &q), HudiCachedFeatureGroups: []any{}, OnDemandFeatureGroups: []any{}}
	if javaBool(r, "hqs") {
		p := BatchPayload{Project: s.store.project, FeatureView: d.Name, Version: d.Version, Region: string(s.region), Query: out.Query}
		if q.LeftFeatureGroupStartTime != nil {
			p.StartTime = *q.LeftFeatureGroupStartTime
		}
		if q.LeftFeatureGroupEndTime != nil {
			p.EndTime = *q.LeftFeatureGroupEndTime
		}
		payload, _ := json.Marshal(p)
		out.HQSPayload = string(payload)
		out.HQSPayloadSignature = s.Sign(string(payload))
	}
	writeJSON(w, http.StatusOK, out)
}

// BatchPayload is what the fake puts, as JSON, in hqsPayload. The real
// payload is the server's own business; this one names the view the query
// came from (the fake recognises it by its feature groups and features),
// the time range and the region that signed it.
type BatchPayload struct {
	Project     string `json:"project"`
	FeatureView string `json:"featureView"`
	Version     int    `json:"version"`
	StartTime   int64  `json:"startTime,omitempty"`
	EndTime     int64  `json:"endTime,omitempty"`
	Region      string `json:"region"`
	Query       string `json:"query,omitempty"`
}

// getOnlineConnector serves the online feature store's JDBC connector
// (FeaturestoreStorageConnectorService.java @Path("/onlinefeaturestore"),
// FeaturestoreJdbcConnectorDTO.java; arguments as
// OnlineFeaturestoreController.createJdbcConnectorForOnlineFeaturestore
// writes them, the password substituted).
func (s *Server) getOnlineConnector(w http.ResponseWriter, r *http.Request) {
	if !s.checkIDs(w, r, true) {
		return
	}
	if s.online == nil {
		writeError(w, http.StatusNotFound, 270042, "Connector not found")
		return
	}
	user := s.online.User
	writeJSON(w, http.StatusOK, jdbcConnectorJSON{
		Type: "featurestoreJdbcConnectorDTO", ID: 1, Name: user + "_onlinefeaturestore",
		Description:    "JDBC connection to Hopsworks Project Online Feature Store NDB Database for user: " + user,
		FeaturestoreID: s.store.fsid, StorageConnectorType: "JDBC",
		ConnectionString: "jdbc:mysql://" + s.online.Addr + "/" + s.store.Database() + "?useSSL=false&allowPublicKeyRetrieval=true",
		Arguments: []optionJSON{
			{"password", s.online.Password}, {"user", user}, {"driver", "com.mysql.cj.jdbc.Driver"},
			{"isolationLevel", "NONE"}, {"batchsize", "500"},
		},
	})
}

// getVariable serves GET /variables/{name} as a RESTApiJsonResponse whose
// successMessage is the value (hsfs core/variable_api.py _get_variable).
func (s *Server) getVariable(w http.ResponseWriter, r *http.Request) {
	v, ok := s.vars[r.PathValue("name")]
	if !ok {
		writeError(w, http.StatusNotFound, CodeVariableNotFound, "Requested variable not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"successMessage": v})
}

// getSubject serves a feature group's schema as the feature store's schema
// registry does (KafkaResource.java, SubjectDTO.java: id, subject,
// version, schema), as hsfs asks for it (hopsworks_common/core/kafka_api.py
// get_subject, subject = {fg}_{version}).
func (s *Server) getSubject(w http.ResponseWriter, r *http.Request) {
	if !s.checkIDs(w, r, true) {
		return
	}
	subject := r.PathValue("subject")
	fg, ok := s.store.featureGroupBySubject(subject)
	if v := r.PathValue("version"); !ok || v != "latest" && v != "1" {
		// The schema registry's own error shape (SchemaRegistryError).
		writeJSON(w, http.StatusNotFound, map[string]any{"error_code": CodeNoSuchSubject, "message": "Subject not found."})
		return
	}
	schema, err := AvroSchema(s.store.fsName(), fg)
	if err != nil {
		writeError(w, http.StatusBadRequest, 270000, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, subjectJSON{ID: int(fg.ID), Subject: subject, Version: 1, Schema: schema})
}

func (s *Server) createView(w http.ResponseWriter, r *http.Request) {
	if !s.checkIDs(w, r, true) {
		return
	}
	var b createBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&b); err != nil {
		writeError(w, http.StatusUnprocessableEntity, CodeIllegalArgument, "could not parse the feature view: "+err.Error())
		return
	}
	def, msg := s.store.toDef(b)
	if msg != "" {
		writeError(w, http.StatusUnprocessableEntity, CodeIllegalArgument, msg)
		return
	}
	d, id, err := s.store.create(s.region, def)
	switch {
	case err == errExists:
		writeError(w, http.StatusBadRequest, CodeFeatureViewExists, "The provided feature view name and version already exists")
		return
	case err != nil:
		writeError(w, http.StatusUnprocessableEntity, CodeIllegalArgument, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, s.store.viewJSON(d, id, true, true))
}

func (s *Server) deleteView(w http.ResponseWriter, r *http.Request) {
	if !s.checkIDs(w, r, true) {
		return
	}
	name := r.PathValue("name")
	v, err := strconv.Atoi(r.PathValue("v"))
	if err != nil {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	if !s.store.remove(s.region, name, v) {
		writeError(w, http.StatusNotFound, CodeFeatureViewNotFound, fmt.Sprintf("Feature view wasn't found. name: %s, version: %d", name, v))
		return
	}
	w.WriteHeader(http.StatusOK)
}
