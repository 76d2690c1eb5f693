package hopsworkstest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"

	"github.com/tandemfs/tandem/region"
)

// APIPath is the path of the REST API below the host.
const APIPath = "/hopsworks-api/api"

// DefaultAPIKey is the key a Server accepts when Options.APIKey is empty.
const DefaultAPIKey = "test-api-key-0123456789"

// Error codes the fake sends. CodeQueryNotValid (270009) is Hopsworks' own;
// the others are illustrative values in Hopsworks' ranges, not checked
// against RESTCodes.
const (
	CodeQueryNotValid      = 270009
	CodeFeatureViewMissing = 270181
	CodeFeatureViewExists  = 270179
	CodeFeatureStoreOnline = 270040
	CodeProjectMissing     = 150004
	CodeUnauthorized       = 200003
	CodeKeyExpired         = 200004
	CodeReadOnly           = 300001
	CodeBadRequest         = 120001
)

// Options configure a Server.
type Options struct {
	// Region the server is in. Default: "eu".
	Region region.ID
	// Active says whether the region is active at start (SetActive changes it).
	Active bool
	// APIKey accepted in "Authorization: ApiKey <key>". Default: DefaultAPIKey.
	APIKey string
	// Store holds the replicated metadata. Default: a new Store of its own.
	Store *Store
	// Secret signs batch-query payloads. Default: random per server.
	Secret []byte
	// PassiveStatus is the HTTP status a passive server refuses writes with.
	// Default: 503; the body is a Hopsworks error JSON saying read-only.
	PassiveStatus int
}

// Fault is a way the whole server misbehaves.
type Fault int

const (
	// FaultNone: serve normally.
	FaultNone Fault = iota
	// FaultUnavailable: answer 503 to everything.
	FaultUnavailable
	// FaultHang: accept requests and never answer, until the client gives up
	// or the server is closed.
	FaultHang
	// FaultReset: close the connection without an answer.
	FaultReset
)

// Request is a request the server received.
type Request struct {
	Method string
	Path   string // below APIPath
	Query  string
	Status int
	// Refused marks a write refused because the server was passive.
	Refused bool
}

// IsWrite reports whether r changes state (any method but GET and HEAD).
func (r Request) IsWrite() bool { return r.Method != http.MethodGet && r.Method != http.MethodHead }

type override struct {
	method   string
	contains string
	status   int
	body     []byte
}

// Server is a fake Hopsworks REST server. It is safe for concurrent use.
type Server struct {
	region        region.ID
	key           string
	secret        []byte
	store         *Store
	passiveStatus int
	ts            *httptest.Server
	quit          chan struct{}
	closeOnce     sync.Once

	mu        sync.Mutex
	active    bool
	expired   bool
	fault     Fault
	overrides []override
	reqs      []Request
}

// New starts a Server. Close it when done.
func New(opts Options) *Server {
	s := &Server{
		region: opts.Region, key: opts.APIKey, secret: opts.Secret, store: opts.Store,
		passiveStatus: opts.PassiveStatus, active: opts.Active, quit: make(chan struct{}),
	}
	if s.region == "" {
		s.region = "eu"
	}
	if s.key == "" {
		s.key = DefaultAPIKey
	}
	if s.secret == nil {
		s.secret = make([]byte, 32)
		_, _ = rand.Read(s.secret)
	}
	if s.store == nil {
		s.store = NewStore(StoreConfig{})
	}
	if s.passiveStatus == 0 {
		s.passiveStatus = http.StatusServiceUnavailable
	}
	mux := http.NewServeMux()
	p := APIPath + "/project"
	mux.HandleFunc("GET "+p+"/getProjectInfo/{name}", s.getProject)
	mux.HandleFunc("GET "+p+"/{pid}/featurestores/{fs}", s.getFeatureStore)
	mux.HandleFunc("POST "+p+"/{pid}/featurestores/{fsid}/featureview", s.createView)
	mux.HandleFunc("GET "+p+"/{pid}/featurestores/{fsid}/featureview/{name}/version/{v}", s.getView)
	mux.HandleFunc("DELETE "+p+"/{pid}/featurestores/{fsid}/featureview/{name}/version/{v}", s.deleteView)
	mux.HandleFunc("GET "+p+"/{pid}/featurestores/{fsid}/featureview/{name}/version/{v}/preparedstatement", s.getStatements)
	mux.HandleFunc("GET "+p+"/{pid}/featurestores/{fsid}/featureview/{name}/version/{v}/query/batch", s.getBatchQuery)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeBadRequest, "no such endpoint in the fake: "+r.Method+" "+r.URL.Path)
	})
	s.ts = httptest.NewServer(s.middleware(mux))
	return s
}

// URL is the API base, ending in /hopsworks-api/api.
func (s *Server) URL() string { return s.ts.URL + APIPath }

// Region returns the server's region.
func (s *Server) Region() region.ID { return s.region }

// Store returns the server's Store.
func (s *Server) Store() *Store { return s.store }

// APIKey returns the key the server accepts.
func (s *Server) APIKey() string { return s.key }

// AddFeatureView adds a view to the server's Store (seen by every region
// at once) and returns its id.
func (s *Server) AddFeatureView(def FeatureViewDef) int64 { return s.store.AddFeatureView(def) }

// Close stops the server: later requests are refused (connection refused).
// Requests hanging under FaultHang are released first. Idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.quit)
		s.ts.Close()
	})
}

// SetActive makes the region active (accepts writes) or passive.
func (s *Server) SetActive(active bool) {
	s.mu.Lock()
	s.active = active
	s.mu.Unlock()
}

// Active reports whether the region is active.
func (s *Server) Active() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// SetKeyExpired makes the server refuse its key as expired (401).
func (s *Server) SetKeyExpired(expired bool) {
	s.mu.Lock()
	s.expired = expired
	s.mu.Unlock()
}

// SetFault makes the whole server misbehave; FaultNone restores it.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// FailPath makes requests whose method is method (any when "") and whose
// path below APIPath contains contains answer status with a Hopsworks error
// JSON carrying code and msg.
func (s *Server) FailPath(method, contains string, status, code int, msg string) {
	body, _ := json.Marshal(errorJSON{ErrorCode: code, ErrorMsg: msg, UsrMsg: msg})
	s.RespondRaw(method, contains, status, body)
}

// RespondRaw makes matching requests (see FailPath) answer status with body
// as is: use it for malformed or oversized bodies.
func (s *Server) RespondRaw(method, contains string, status int, body []byte) {
	s.mu.Lock()
	s.overrides = append(s.overrides, override{method: method, contains: contains, status: status, body: body})
	s.mu.Unlock()
}

// ClearOverrides removes what FailPath and RespondRaw set.
func (s *Server) ClearOverrides() {
	s.mu.Lock()
	s.overrides = nil
	s.mu.Unlock()
}

// Requests returns every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Writes returns the write requests received (refused ones included; see
// Request.Refused).
func (s *Server) Writes() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.IsWrite() {
			out = append(out, r)
		}
	}
	return out
}

// AcceptedWrites returns the writes the server accepted and applied (2xx).
func (s *Server) AcceptedWrites() []Request {
	var out []Request
	for _, r := range s.Writes() {
		if !r.Refused && r.Status >= 200 && r.Status < 300 {
			out = append(out, r)
		}
	}
	return out
}

// RefusedWrites returns the writes refused because the server was passive.
func (s *Server) RefusedWrites() []Request {
	var out []Request
	for _, r := range s.Writes() {
		if r.Refused {
			out = append(out, r)
		}
	}
	return out
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.reqs = nil
	s.mu.Unlock()
}

// Sign returns the hqsPayloadSignature the server gives payload:
// hex(HMAC-SHA256(secret, payload)).
func (s *Server) Sign(payload string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether sig is this server's signature of
// payload; a query-service test server checks batch queries with it.
func (s *Server) VerifySignature(payload, sig string) bool {
	want, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(payload))
	return hmac.Equal(m.Sum(nil), want)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := Request{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, APIPath), Query: r.URL.RawQuery}
		s.mu.Lock()
		fault, active, expired := s.fault, s.active, s.expired
		var ov *override
		for i := len(s.overrides) - 1; i >= 0; i-- {
			o := s.overrides[i]
			if (o.method == "" || o.method == r.Method) && strings.Contains(rec.Path, o.contains) {
				ov = &o
				break
			}
		}
		s.mu.Unlock()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			rec.Status = sw.status
			s.mu.Lock()
			s.reqs = append(s.reqs, rec)
			s.mu.Unlock()
		}()
		switch fault {
		case FaultUnavailable:
			writeError(sw, http.StatusServiceUnavailable, 0, "service unavailable (fake outage)")
			return
		case FaultHang:
			select {
			case <-r.Context().Done():
			case <-s.quit:
			}
			return
		case FaultReset:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		if ov != nil {
			sw.Header().Set("Content-Type", "application/json")
			sw.WriteHeader(ov.status)
			_, _ = sw.Write(ov.body)
			return
		}
		auth := r.Header.Get("Authorization")
		if !strings.HasPrefix(auth, "ApiKey ") || !hmac.Equal([]byte(strings.TrimPrefix(auth, "ApiKey ")), []byte(s.key)) {
			writeError(sw, http.StatusUnauthorized, CodeUnauthorized, "Authorization failed: invalid or missing API key")
			return
		}
		if expired {
			writeError(sw, http.StatusUnauthorized, CodeKeyExpired, "API key expired")
			return
		}
		if rec.IsWrite() && !active {
			rec.Refused = true
			_, _ = io.Copy(io.Discard, r.Body)
			writeError(sw, s.passiveStatus, CodeReadOnly,
				fmt.Sprintf("Region %s is passive (read-only): writes go to the active region", s.region))
			return
		}
		next.ServeHTTP(sw, r)
	})
}

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

// checkIDs validates the project and feature store ids in the path.
func (s *Server) checkIDs(w http.ResponseWriter, r *http.Request, withFS bool) bool {
	if r.PathValue("pid") != strconv.FormatInt(s.store.pid, 10) {
		writeError(w, http.StatusNotFound, CodeProjectMissing, "Project wasn't found.")
		return false
	}
	if withFS && r.PathValue("fsid") != strconv.FormatInt(s.store.fsid, 10) {
		writeError(w, http.StatusNotFound, CodeFeatureViewMissing, "Featurestore wasn't found.")
		return false
	}
	return true
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("name") != s.store.project {
		writeError(w, http.StatusNotFound, CodeProjectMissing, "Project wasn't found.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"projectId": s.store.pid, "projectName": s.store.project, "owner": "admin@hopsworks.ai",
		"created": "2024-01-16T10:00:00Z", "archived": false,
	})
}

func (s *Server) getFeatureStore(w http.ResponseWriter, r *http.Request) {
	if !s.checkIDs(w, r, false) {
		return
	}
	if !strings.EqualFold(r.PathValue("fs"), s.store.fsName()) && r.PathValue("fs") != strconv.FormatInt(s.store.fsid, 10) {
		writeError(w, http.StatusNotFound, CodeFeatureViewMissing, "Featurestore wasn't found.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"featurestoreId": s.store.fsid, "featurestoreName": s.store.fsName(),
		"projectId": s.store.pid, "projectName": s.store.project,
		"onlineFeaturestoreName":  s.store.Database(),
		"offlineFeaturestoreName": s.store.fsName(),
		"onlineEnabled":           true, "numFeatureGroups": 0, "numFeatureViews": 0,
	})
}

// lookupView resolves {name}/version/{v}, answering the errors itself.
func (s *Server) lookupView(w http.ResponseWriter, r *http.Request) (FeatureViewDef, int64, bool) {
	if !s.checkIDs(w, r, true) {
		return FeatureViewDef{}, 0, false
	}
	name := r.PathValue("name")
	v, err := strconv.Atoi(r.PathValue("v"))
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "version must be an integer")
		return FeatureViewDef{}, 0, false
	}
	d, id, ok := s.store.view(s.region, name, v)
	if !ok {
		writeError(w, http.StatusNotFound, CodeFeatureViewMissing,
			fmt.Sprintf("Feature view wasn't found. name: %s, version: %d", name, v))
		return FeatureViewDef{}, 0, false
	}
	if s.store.isInvalid(name, v) {
		writeError(w, http.StatusBadRequest, CodeQueryNotValid,
			"The query of the feature view is not valid anymore: a feature group it reads was deleted or changed")
		return FeatureViewDef{}, 0, false
	}
	return d, id, true
}

func (s *Server) getView(w http.ResponseWriter, r *http.Request) {
	d, id, ok := s.lookupView(w, r)
	if !ok {
		return
	}
	expand := r.URL.Query()["expand"]
	has := func(x string) bool {
		for _, e := range expand {
			if strings.EqualFold(e, x) {
				return true
			}
		}
		return false
	}
	writeJSON(w, http.StatusOK, s.store.viewJSON(d, id, has("features"), has("query")))
}

func (s *Server) getStatements(w http.ResponseWriter, r *http.Request) {
	d, _, ok := s.lookupView(w, r)
	if !ok {
		return
	}
	batch := r.URL.Query().Get("batch") == "true"
	sts, err := Statements(s.store.project, d, batch)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeFeatureStoreOnline, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"href":  s.URL() + strings.TrimPrefix(r.URL.Path, APIPath) + "s",
		"items": sts, "count": len(sts),
	})
}

// BatchPayload is what the fake puts, as JSON, in hqsPayload.
type BatchPayload struct {
	Project     string `json:"project"`
	FeatureView string `json:"featureView"`
	Version     int    `json:"version"`
	StartTime   int64  `json:"startTime,omitempty"`
	EndTime     int64  `json:"endTime,omitempty"`
	Region      string `json:"region"`
}

func (s *Server) getBatchQuery(w http.ResponseWriter, r *http.Request) {
	d, _, ok := s.lookupView(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	p := BatchPayload{Project: s.store.project, FeatureView: d.Name, Version: d.Version, Region: string(s.region)}
	for _, x := range []struct {
		k string
		v *int64
	}{{"start_time", &p.StartTime}, {"end_time", &p.EndTime}} {
		if s := q.Get(x.k); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				writeError(w, http.StatusBadRequest, CodeBadRequest, x.k+" must be epoch milliseconds")
				return
			}
			*x.v = n
		}
	}
	payload, _ := json.Marshal(p)
	var cols []string
	for _, f := range d.features() {
		cols = append(cols, fmt.Sprintf("`fg%d`.`%s` `%s`", f.Join, f.FeatureGroupFeatureName, f.Name))
	}
	fg := d.Joins[0].FeatureGroup
	writeJSON(w, http.StatusOK, map[string]any{
		"query": fmt.Sprintf("SELECT %s\nFROM `%s`.`%s` `fg0`", strings.Join(cols, ", "),
			s.store.fsName(), fg.Table()),
		"queryOnline":         "",
		"pitQuery":            nil,
		"hqsPayload":          string(payload),
		"hqsPayloadSignature": s.Sign(string(payload)),
	})
}

func (s *Server) createView(w http.ResponseWriter, r *http.Request) {
	if !s.checkIDs(w, r, true) {
		return
	}
	var b createBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&b); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "could not parse the feature view: "+err.Error())
		return
	}
	def, msg := s.store.toDef(b)
	if msg != "" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, msg)
		return
	}
	d, id, err := s.store.create(s.region, def)
	switch {
	case err == errExists:
		writeError(w, http.StatusBadRequest, CodeFeatureViewExists, "Feature view already exists: "+def.Name)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
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
		writeError(w, http.StatusBadRequest, CodeBadRequest, "version must be an integer")
		return
	}
	if !s.store.remove(s.region, name, v) {
		writeError(w, http.StatusNotFound, CodeFeatureViewMissing,
			fmt.Sprintf("Feature view wasn't found. name: %s, version: %d", name, v))
		return
	}
	w.WriteHeader(http.StatusOK)
}
