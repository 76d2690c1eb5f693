package hopsworkstest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/tandemfs/tandem/region"
)

// APIPath is the path of the REST API below the host.
const APIPath = "/hopsworks-api/api"

// DefaultAPIKey is the key a Server accepts when Options.APIKey is empty.
const DefaultAPIKey = "test-api-key-0123456789"

// Error codes the fake sends, with the HTTP status the real server sends
// each with: RESTCodes.java
// (hopsworks-rest-utils/src/main/java/io/hops/hopsworks/restutils/RESTCodes.java
// in logicalclocks/hopsworks; each enum adds its range to its number).
const (
	CodeProjectNotFound      = 150004 // PROJECT_NOT_FOUND, HTTP 400
	CodeVariableNotFound     = 100050 // VARIABLE_NOT_FOUND, HTTP 404
	CodeIllegalArgument      = 120001 // ILLEGAL_ARGUMENT, HTTP 422
	CodeFeatureStoreNotFound = 270008 // FEATURESTORE_NOT_FOUND, HTTP 404
	CodeFeatureGroupNotFound = 270009 // FEATUREGROUP_NOT_FOUND, HTTP 404
	CodeOnlineNotEnabled     = 270064 // FEATURESTORE_ONLINE_NOT_ENABLED, HTTP 400
	CodeQueryFailedFGDeleted = 270113 // QUERY_FAILED_FG_DELETED, HTTP 400
	CodeFeatureViewExists    = 270179 // FEATURE_VIEW_ALREADY_EXISTS, HTTP 400
	CodeFeatureViewNotFound  = 270181 // FEATURE_VIEW_NOT_FOUND, HTTP 404
	CodeKeyNotFound          = 320002 // KEY_NOT_FOUND, HTTP 401
	CodeKeyInvalid           = 320012 // KEY_INVALID, HTTP 401
	CodeKeyNotInDatabase     = 320013 // KEY_NOT_FOUND_IN_DATABASE, HTTP 401
	CodeNoSuchSubject        = 40401  // schema registry: subject not found, HTTP 404
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
	// Default: 503; the body is an error JSON saying read-only. (The public
	// server has no multi-region code; this is Tandem's convention.)
	PassiveStatus int
	// TLS serves https with httptest's certificate; use Client or CertPool
	// to trust it. Default: plain http.
	TLS bool
	// OnlineStore is what the region's online feature store connector
	// gives (storageconnectors/onlinefeaturestore). Default: none, and the
	// connector answers CONNECTOR_NOT_FOUND.
	OnlineStore *OnlineStoreDef
	// Variables answer GET /variables/{name} (e.g.
	// "loadbalancer_external_domain_mysqld"); others are VARIABLE_NOT_FOUND.
	Variables map[string]string
}

// OnlineStoreDef is a region's online store as its JDBC connector names it.
type OnlineStoreDef struct {
	// Addr is host:port of the MySQL server.
	Addr string
	// User and Password are the connector's "user" and "password" arguments.
	User, Password string
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

// IsWrite reports whether r changes state: any method but GET and HEAD,
// except the query constructor's PUT (/project/{pid}/featurestores/query),
// which builds a query and stores nothing.
func (r Request) IsWrite() bool {
	if r.Method == http.MethodPut && strings.HasSuffix(r.Path, "/featurestores/query") {
		return false
	}
	return r.Method != http.MethodGet && r.Method != http.MethodHead
}

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
	online        *OnlineStoreDef
	vars          map[string]string
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
		online: opts.OnlineStore, vars: maps.Clone(opts.Variables),
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
	fv := p + "/{pid}/featurestores/{fsid}/featureview"
	mux.HandleFunc("GET "+p+"/getProjectInfo/{name}", s.getProject)
	mux.HandleFunc("GET "+p+"/{pid}/featurestores/{fs}", s.getFeatureStore)
	mux.HandleFunc("PUT "+p+"/{pid}/featurestores/query", s.constructQuery)
	mux.HandleFunc("POST "+fv, s.createView)
	mux.HandleFunc("GET "+fv+"/{name}/version/{v}", s.getView)
	mux.HandleFunc("DELETE "+fv+"/{name}/version/{v}", s.deleteView)
	mux.HandleFunc("GET "+fv+"/{name}/version/{v}/preparedstatement", s.getStatements)
	mux.HandleFunc("GET "+fv+"/{name}/version/{v}/query/batch", s.getBatchQuery)
	mux.HandleFunc("GET "+fv+"/{name}/version/{v}/trainingdatasets/version/{td}/statistics", s.getStatistics) // transformations.go
	mux.HandleFunc("GET "+p+"/{pid}/featurestores/{fsid}/storageconnectors/onlinefeaturestore", s.getOnlineConnector)
	mux.HandleFunc("GET "+p+"/{pid}/featurestores/{fsid}/kafka/subjects/{subject}/versions/{version}", s.getSubject)
	mux.HandleFunc("GET "+APIPath+"/variables/{name}", s.getVariable)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// JAX-RS answers an unmatched route with a bare 404.
		http.Error(w, "Not Found", http.StatusNotFound)
	})
	if opts.TLS {
		s.ts = httptest.NewTLSServer(s.middleware(mux))
	} else {
		s.ts = httptest.NewServer(s.middleware(mux))
	}
	return s
}

// Client returns an *http.Client that trusts the server (its TLS
// certificate when Options.TLS is set).
func (s *Server) Client() *http.Client { return s.ts.Client() }

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
		switch {
		case !strings.HasPrefix(auth, "ApiKey "):
			writeError(sw, http.StatusUnauthorized, CodeKeyNotFound, "Api key not found")
			return
		case !hmac.Equal([]byte(strings.TrimPrefix(auth, "ApiKey ")), []byte(s.key)):
			writeError(sw, http.StatusUnauthorized, CodeKeyInvalid, "Invalid or incorrect API key.")
			return
		case expired:
			writeError(sw, http.StatusUnauthorized, CodeKeyNotInDatabase, "API key not found in the database")
			return
		}
		if rec.IsWrite() && !active {
			rec.Refused = true
			_, _ = io.Copy(io.Discard, r.Body)
			writeError(sw, s.passiveStatus, 0,
				fmt.Sprintf("Region %s is passive (read-only): writes go to the active region", s.region))
			return
		}
		next.ServeHTTP(sw, r)
	})
}
