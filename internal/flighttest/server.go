package flighttest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// The gRPC metadata keys hsfs sends (python/hsfs/core/arrow_flight_client.py
// in logicalclocks/hopsworks-api): the batch query's hqsPayloadSignature,
// with DoGet of a command ticket (_read_query), and the project's
// certificates, with DoGet of a path ticket (_certificates_headers) when the
// service answers get-version.
const (
	SignatureHeader    = "hopsworks-signature"
	CertificatesHeader = "x-certificates-json"
)

// The actions the server lists and answers, named as hsfs names them
// (python/hsfs/core/arrow_flight_client.py in logicalclocks/hopsworks-api).
const (
	ActionHealthcheck          = "healthcheck"
	ActionGetVersion           = "get-version"
	ActionRegisterCertificates = "register-client-certificates"
)

// RegisterFirstMessage is the error text with which a query service that
// does not answer get-version refuses a caller that has not registered its
// certificates. hsfs matches this text (_handle_afs_exception), registers
// and tries once more.
const RegisterFirstMessage = "Please register client certificates first."

// Method names recorded in [Request.Method].
const (
	MethodGetFlightInfo = "GetFlightInfo"
	MethodDoGet         = "DoGet"
	MethodDoAction      = "DoAction"
	MethodListActions   = "ListActions"
)

// Config configures a [Server]. The zero Config is usable.
//
// What the server checks follows what the hsfs client sends
// (python/hsfs/core/arrow_flight_client.py in logicalclocks/hopsworks-api),
// since the query service's own source is not public:
//
//   - GetFlightInfo carries no header (_get_flight_info); the server
//     requires none there.
//   - DoGet of a command ticket carries hopsworks-signature (_read_query);
//     with Verify set, the server refuses it without one (Unauthenticated)
//     or with a wrong one (PermissionDenied).
//   - DoGet of a path ticket (a training dataset, _read_path) needs the
//     project's certificates: in the x-certificates-json header when the
//     server answers get-version (Version set), else registered beforehand
//     on the same connection with the register-client-certificates action;
//     it refuses otherwise.
type Config struct {
	// Verify checks a command payload against the hopsworks-signature
	// header of DoGet. A missing header is refused with Unauthenticated,
	// a failed check with PermissionDenied. Default: nil, no check.
	Verify func(payload []byte, signature string) error

	// Version is the answer to the get-version action. A server with a
	// version lists get-version and wants the certificates of a path read
	// in the x-certificates-json header of DoGet. With none it does not
	// list get-version, and wants them registered on the connection with
	// the register-client-certificates action, answering an unregistered
	// path read with codes.Unknown and [RegisterFirstMessage]. Default:
	// "", an older service without get-version.
	Version string

	// SilentVersion makes a server without a Version list get-version
	// anyway and answer it with no result, which hsfs
	// (_get_server_version) reads as no version: the certificates must
	// then be registered. Default: false.
	SilentVersion bool

	// CheckCertificates checks the project certificates a path read
	// carries (or its connection registered), after they parsed as
	// [Certificates]. A failure is refused with PermissionDenied.
	// Default: nil, any well-formed certificates pass.
	CheckCertificates func(Certificates) error

	// TLS, if set, makes the server speak TLS with this configuration,
	// for example with ClientAuth tls.RequireAndVerifyClientCert as the
	// query service's mutual TLS. Default: nil, plaintext.
	TLS *tls.Config

	// Decode reads a command payload into the feature view and time range
	// to serve, so the server can stand behind another fake's payload
	// format (e.g. hopsworkstest.BatchPayload). An error is answered with
	// InvalidArgument. Default: strict JSON of a [Query].
	Decode func(payload []byte) (Query, error)

	// Allocator is used to serialise schemas and record batches.
	// Default: memory.DefaultAllocator.
	Allocator memory.Allocator
}

// Request is one call the server received, recorded before it was served.
type Request struct {
	Method       string   // MethodGetFlightInfo, MethodDoGet, MethodDoAction or MethodListActions
	Action       string   // the action type, for DoAction
	Body         []byte   // the action body, for DoAction
	Signature    string   // the hopsworks-signature header, "" if absent
	Certificates []byte   // the x-certificates-json header, nil if absent
	Command      []byte   // the descriptor's command, for GetFlightInfo
	Path         []string // the descriptor's path, for GetFlightInfo
	Ticket       string   // "command" or "path", for DoGet of a valid ticket
	Ready        bool     // whether the server was ready when it came
}

type viewKey struct {
	name    string
	version int
}

type fault struct {
	after int64 // rows to send first
	hang  bool  // stall instead of failing
	then  func()
}

// ticket is what GetFlightInfo hands out and DoGet reads back. A command
// ticket keeps the payload, so DoGet can check it against the signature.
type ticket struct {
	Command []byte `json:"command,omitempty"`
	Path    string `json:"path,omitempty"`

	query *Query // decoded from Command
}

// Server is one region's fake query service. Create it with [Start]; it is
// ready and healthy until told otherwise.
type Server struct {
	flight.BaseFlightServer

	cfg  Config
	srv  flight.Server
	addr string

	ready, healthy, hang atomic.Bool

	mu    sync.Mutex
	views map[viewKey]*dataset
	paths map[string]*dataset
	fault *fault
	reqs  []Request
	// registered holds the certificates each connection (by peer address)
	// registered with the register-client-certificates action.
	registered map[string]Certificates

	closing   chan struct{}
	closeOnce sync.Once
	served    chan struct{}
}

// Start starts a Server on 127.0.0.1 on a free port.
func Start(cfg Config) (*Server, error) {
	if cfg.Allocator == nil {
		cfg.Allocator = memory.DefaultAllocator
	}
	if cfg.Decode == nil {
		cfg.Decode = DecodeQuery
	}
	s := &Server{
		cfg:        cfg,
		views:      make(map[viewKey]*dataset),
		paths:      make(map[string]*dataset),
		registered: make(map[string]Certificates),
		closing:    make(chan struct{}),
		served:     make(chan struct{}),
	}
	s.ready.Store(true)
	s.healthy.Store(true)
	var gopts []grpc.ServerOption
	if cfg.TLS != nil {
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(cfg.TLS.Clone())))
	}
	s.srv = flight.NewServerWithMiddleware(nil, gopts...)
	if err := s.srv.Init("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("flighttest: listen: %w", err)
	}
	s.addr = s.srv.Addr().String()
	s.srv.RegisterFlightService(s)
	go func() {
		defer close(s.served)
		_ = s.srv.Serve()
	}()
	return s, nil
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// Close stops the server: stalled calls return, the listener closes, and the
// tables are released. It is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.srv.Shutdown()
		<-s.served
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, d := range s.views {
			d.release()
		}
		for _, d := range s.paths {
			d.release()
		}
		s.views, s.paths = nil, nil
	})
}

// AddFeatureView serves recs as feature view name, version. eventTime names
// the column that a query's start and end filter on (a timestamp, or an
// int64 of Unix milliseconds); "" serves every row whatever the range. The
// server retains recs.
func (s *Server) AddFeatureView(name string, version int, eventTime string, schema *arrow.Schema, recs []arrow.RecordBatch) error {
	d, err := newDataset(eventTime, schema, recs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.views[viewKey{name, version}]; old != nil {
		old.release()
	}
	s.views[viewKey{name, version}] = d
	return nil
}

// AddTrainingDataset serves recs at path (its components joined by "/").
// The server retains recs.
func (s *Server) AddTrainingDataset(path string, schema *arrow.Schema, recs []arrow.RecordBatch) error {
	d, err := newDataset("", schema, recs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.paths[path]; old != nil {
		old.release()
	}
	s.paths[path] = d
	return nil
}

// SetReady makes the server a ready query service (true) or a standby that
// answers every call with Unavailable (false).
func (s *Server) SetReady(ok bool) { s.ready.Store(ok) }

// SetHealthy makes every call, the healthcheck included, fail with
// Internal while ok is false.
func (s *Server) SetHealthy(ok bool) { s.healthy.Store(ok) }

// SetHang makes every call stall until its caller gives up or the server
// closes, while on is true.
func (s *Server) SetHang(on bool) { s.hang.Store(on) }

// DropAfter makes the next DoGet send at least rows rows, call then (if not
// nil), and fail with Unavailable, as a query service that dies mid-stream.
// It applies to one stream only.
func (s *Server) DropAfter(rows int64, then func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = &fault{after: rows, then: then}
}

// HangAfter makes the next DoGet send at least rows rows, call then (if not
// nil), and stall until its caller gives up or the server closes. It
// applies to one stream only.
func (s *Server) HangAfter(rows int64, then func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = &fault{after: rows, hang: true, then: then}
}

// Requests returns a copy of every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// Count returns how many requests the server has received.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

func (s *Server) record(r Request) {
	r.Ready = s.ready.Load()
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
}

// gate applies the server-wide modes to a call.
func (s *Server) gate(ctx context.Context) error {
	if !s.ready.Load() {
		return status.Error(codes.Unavailable, "flighttest: query service is a standby, not ready")
	}
	if s.hang.Load() {
		return s.stall(ctx)
	}
	if !s.healthy.Load() {
		return status.Error(codes.Internal, "flighttest: query service unhealthy")
	}
	return nil
}

func (s *Server) stall(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-s.closing:
		return status.Error(codes.Unavailable, "flighttest: server shutting down")
	}
}

func header(ctx context.Context, key string) string {
	if v := metadata.ValueFromIncomingContext(ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// request records what every call carries.
func request(ctx context.Context, method string) Request {
	r := Request{Method: method, Signature: header(ctx, SignatureHeader)}
	if v := metadata.ValueFromIncomingContext(ctx, CertificatesHeader); len(v) > 0 {
		r.Certificates = []byte(v[0])
	}
	return r
}

// ForgetRegistrations drops every connection's registered certificates, as
// a query service that restarted.
func (s *Server) ForgetRegistrations() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.registered)
}

func peerKey(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// checkCertificates applies the rules of Config to a path read.
func (s *Server) checkCertificates(ctx context.Context) error {
	var c Certificates
	if s.cfg.Version != "" {
		h := metadata.ValueFromIncomingContext(ctx, CertificatesHeader)
		if len(h) == 0 {
			return status.Error(codes.Unauthenticated, "flighttest: a training dataset read needs the "+CertificatesHeader+" header")
		}
		var err error
		if c, err = ParseCertificates([]byte(h[0])); err != nil {
			return status.Errorf(codes.InvalidArgument, "flighttest: %s: %v", CertificatesHeader, err)
		}
	} else {
		s.mu.Lock()
		got, ok := s.registered[peerKey(ctx)]
		s.mu.Unlock()
		if !ok {
			return status.Error(codes.Unknown, RegisterFirstMessage)
		}
		c = got
	}
	if s.cfg.CheckCertificates != nil {
		if err := s.cfg.CheckCertificates(c); err != nil {
			return status.Errorf(codes.PermissionDenied, "flighttest: certificates refused: %v", err)
		}
	}
	return nil
}

// GetFlightInfo resolves a command (signed batch query) or a path
// (training dataset) into one endpoint whose ticket DoGet accepts. As in
// hsfs, no header is required here: the signature and the certificates are
// checked by DoGet.
func (s *Server) GetFlightInfo(ctx context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	r := request(ctx, MethodGetFlightInfo)
	r.Command, r.Path = slices.Clone(desc.GetCmd()), slices.Clone(desc.GetPath())
	s.record(r)
	if err := s.gate(ctx); err != nil {
		return nil, err
	}
	var t ticket
	switch desc.GetType() {
	case flight.DescriptorCMD:
		q, err := s.cfg.Decode(desc.GetCmd())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "flighttest: bad query payload: %v", err)
		}
		t.Command, t.query = desc.GetCmd(), &q
	case flight.DescriptorPATH:
		t.Path = strings.Join(desc.GetPath(), "/")
		if t.Path == "" {
			return nil, status.Error(codes.InvalidArgument, "flighttest: empty path")
		}
	default:
		return nil, status.Error(codes.InvalidArgument, "flighttest: descriptor must be a command or a path")
	}
	d, err := s.lookup(t)
	if err != nil {
		return nil, err
	}
	defer d.release()
	tb, err := json.Marshal(t)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &flight.FlightInfo{
		Schema:           flight.SerializeSchema(d.schema, s.cfg.Allocator),
		FlightDescriptor: desc,
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: tb}}},
		TotalRecords:     -1,
		TotalBytes:       -1,
	}, nil
}

// DecodeQuery is the default [Config.Decode]: strict JSON of a [Query]
// with a feature view name.
func DecodeQuery(b []byte) (Query, error) {
	var q Query
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return Query{}, err
	}
	if q.FeatureView == "" {
		return Query{}, fmt.Errorf("featureView is empty")
	}
	return q, nil
}

func (s *Server) lookup(t ticket) (*dataset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.query != nil {
		d := s.views[viewKey{t.query.FeatureView, t.query.Version}]
		if d == nil {
			return nil, status.Errorf(codes.NotFound, "flighttest: feature view %q version %d not found", t.query.FeatureView, t.query.Version)
		}
		d.retain()
		return d, nil
	}
	d := s.paths[t.Path]
	if d == nil {
		return nil, status.Errorf(codes.NotFound, "flighttest: training dataset %q not found", t.Path)
	}
	d.retain()
	return d, nil
}

// DoGet checks a ticket's signature (command) or certificates (path) and
// streams the rows it names, applying any one-shot fault.
func (s *Server) DoGet(tkt *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	ctx := stream.Context()
	r := request(ctx, MethodDoGet)
	var t ticket
	bad := json.Unmarshal(tkt.GetTicket(), &t) != nil || (len(t.Command) == 0) == (t.Path == "")
	switch {
	case bad:
	case t.Path != "":
		r.Ticket = "path"
	default:
		r.Ticket = "command"
	}
	s.record(r)
	if err := s.gate(ctx); err != nil {
		return err
	}
	if bad {
		return status.Error(codes.InvalidArgument, "flighttest: bad ticket")
	}
	if t.Path != "" {
		if err := s.checkCertificates(ctx); err != nil {
			return err
		}
	} else {
		if s.cfg.Verify != nil {
			if r.Signature == "" {
				return status.Error(codes.Unauthenticated, "flighttest: missing "+SignatureHeader+" header")
			}
			if err := s.cfg.Verify(t.Command, r.Signature); err != nil {
				return status.Errorf(codes.PermissionDenied, "flighttest: signature rejected: %v", err)
			}
		}
		q, err := s.cfg.Decode(t.Command)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "flighttest: bad query payload: %v", err)
		}
		t.query = &q
	}
	d, err := s.lookup(t)
	if err != nil {
		return err
	}
	defer d.release()
	s.mu.Lock()
	f := s.fault
	s.fault = nil
	s.mu.Unlock()

	var start, end time.Time
	if t.query != nil {
		start, end = t.query.Start, t.query.End
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(d.schema), ipc.WithAllocator(s.cfg.Allocator))
	var sent int64
	for _, rec := range d.recs {
		for _, part := range d.parts(rec, start, end) {
			if f != nil && sent >= f.after {
				part.Release()
				return s.trip(ctx, f)
			}
			err := w.Write(part)
			sent += part.NumRows()
			part.Release()
			if err != nil {
				return err
			}
		}
	}
	if f != nil {
		return s.trip(ctx, f)
	}
	return w.Close()
}

func (s *Server) trip(ctx context.Context, f *fault) error {
	if f.then != nil {
		f.then()
	}
	if f.hang {
		return s.stall(ctx)
	}
	return status.Error(codes.Unavailable, "flighttest: stream dropped")
}

// ListActions lists healthcheck, register-client-certificates and, with
// a Config.Version (or SilentVersion), get-version: hsfs looks for
// get-version in this list before it asks for it.
func (s *Server) ListActions(_ *flight.Empty, stream flight.FlightService_ListActionsServer) error {
	s.record(request(stream.Context(), MethodListActions))
	if err := s.gate(stream.Context()); err != nil {
		return err
	}
	types := []string{ActionHealthcheck, ActionRegisterCertificates}
	if s.cfg.Version != "" || s.cfg.SilentVersion {
		types = append(types, ActionGetVersion)
	}
	for _, ty := range types {
		if err := stream.Send(&flight.ActionType{Type: ty}); err != nil {
			return err
		}
	}
	return nil
}

// DoAction answers healthcheck (no results), get-version (one result, the
// Config.Version, on a server that has one) and register-client-certificates
// (the body is the certificates JSON; no results).
func (s *Server) DoAction(a *flight.Action, stream flight.FlightService_DoActionServer) error {
	ctx := stream.Context()
	r := request(ctx, MethodDoAction)
	r.Action, r.Body = a.GetType(), slices.Clone(a.GetBody())
	s.record(r)
	if err := s.gate(ctx); err != nil {
		return err
	}
	switch a.GetType() {
	case ActionHealthcheck:
		return nil
	case ActionGetVersion:
		if s.cfg.Version != "" {
			return stream.Send(&flight.Result{Body: []byte(s.cfg.Version)})
		}
		if s.cfg.SilentVersion {
			return nil
		}
	case ActionRegisterCertificates:
		c, err := ParseCertificates(a.GetBody())
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "flighttest: %s: %v", ActionRegisterCertificates, err)
		}
		if s.cfg.CheckCertificates != nil {
			if err := s.cfg.CheckCertificates(c); err != nil {
				return status.Errorf(codes.PermissionDenied, "flighttest: certificates refused: %v", err)
			}
		}
		s.mu.Lock()
		s.registered[peerKey(ctx)] = c
		s.mu.Unlock()
		return nil
	}
	return status.Errorf(codes.Unimplemented, "flighttest: unknown action %q", a.GetType())
}
