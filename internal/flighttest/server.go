package flighttest

import (
	"context"
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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// SignatureHeader is the gRPC metadata key that carries the batch query's
// hqsPayloadSignature.
const SignatureHeader = "hopsworks-signature"

// Method names recorded in [Request.Method].
const (
	MethodGetFlightInfo = "GetFlightInfo"
	MethodDoGet         = "DoGet"
	MethodDoAction      = "DoAction"
)

// Config configures a [Server]. The zero Config is usable.
type Config struct {
	// Verify checks a command payload against the hopsworks-signature
	// header. A missing header is refused with Unauthenticated, a failed
	// check with PermissionDenied. Path descriptors (training datasets)
	// are not signed. Default: nil, no check at all.
	Verify func(payload []byte, signature string) error

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
	Method    string   // MethodGetFlightInfo, MethodDoGet or MethodDoAction
	Action    string   // the action type, for DoAction
	Signature string   // the hopsworks-signature header, "" if absent
	Command   []byte   // the descriptor's command, for GetFlightInfo
	Path      []string // the descriptor's path, for GetFlightInfo
	Ready     bool     // whether the server was ready when it came
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

// ticket is what GetFlightInfo hands out and DoGet reads back.
type ticket struct {
	Query *Query `json:"query,omitempty"`
	Path  string `json:"path,omitempty"`
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
		cfg:     cfg,
		views:   make(map[viewKey]*dataset),
		paths:   make(map[string]*dataset),
		closing: make(chan struct{}),
		served:  make(chan struct{}),
	}
	s.ready.Store(true)
	s.healthy.Store(true)
	s.srv = flight.NewServerWithMiddleware(nil)
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

func signature(ctx context.Context) string {
	if v := metadata.ValueFromIncomingContext(ctx, SignatureHeader); len(v) > 0 {
		return v[0]
	}
	return ""
}

// GetFlightInfo resolves a command (signed batch query) or a path
// (training dataset) into one endpoint whose ticket DoGet accepts.
func (s *Server) GetFlightInfo(ctx context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	sig := signature(ctx)
	s.record(Request{Method: MethodGetFlightInfo, Signature: sig, Command: slices.Clone(desc.GetCmd()), Path: slices.Clone(desc.GetPath())})
	if err := s.gate(ctx); err != nil {
		return nil, err
	}
	var (
		t ticket
		d *dataset
	)
	switch desc.GetType() {
	case flight.DescriptorCMD:
		if s.cfg.Verify != nil {
			if sig == "" {
				return nil, status.Error(codes.Unauthenticated, "flighttest: missing "+SignatureHeader+" header")
			}
			if err := s.cfg.Verify(desc.GetCmd(), sig); err != nil {
				return nil, status.Errorf(codes.PermissionDenied, "flighttest: signature rejected: %v", err)
			}
		}
		q, err := s.cfg.Decode(desc.GetCmd())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "flighttest: bad query payload: %v", err)
		}
		t.Query = &q
	case flight.DescriptorPATH:
		t.Path = strings.Join(desc.GetPath(), "/")
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
	if t.Query != nil {
		d := s.views[viewKey{t.Query.FeatureView, t.Query.Version}]
		if d == nil {
			return nil, status.Errorf(codes.NotFound, "flighttest: feature view %q version %d not found", t.Query.FeatureView, t.Query.Version)
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

// DoGet streams the rows a ticket names, applying any one-shot fault.
func (s *Server) DoGet(tkt *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	ctx := stream.Context()
	s.record(Request{Method: MethodDoGet, Signature: signature(ctx)})
	if err := s.gate(ctx); err != nil {
		return err
	}
	var t ticket
	if err := json.Unmarshal(tkt.GetTicket(), &t); err != nil || (t.Query == nil && t.Path == "") {
		return status.Error(codes.InvalidArgument, "flighttest: bad ticket")
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
	if t.Query != nil {
		start, end = t.Query.Start, t.Query.End
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

// DoAction answers the healthcheck action with no results.
func (s *Server) DoAction(a *flight.Action, stream flight.FlightService_DoActionServer) error {
	s.record(Request{Method: MethodDoAction, Action: a.GetType(), Signature: signature(stream.Context())})
	if err := s.gate(stream.Context()); err != nil {
		return err
	}
	if a.GetType() != "healthcheck" {
		return status.Errorf(codes.Unimplemented, "flighttest: unknown action %q", a.GetType())
	}
	return nil
}
