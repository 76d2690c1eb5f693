package offline

import (
	"context"
	"log/slog"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/region"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// ActiveSource says which region is active and how fresh that is.
// *aca.Client satisfies it.
//
// Current must be cheap: a [Reader] calls it between record batches to
// notice a flip. If the source also has a method
// Watch(ctx) <-chan aca.State (as *aca.Client does), a Reader watches it
// too, so a flip also cuts short a stream that is stalled in the old
// region. If it has Refresh(ctx) (aca.State, error) (as *aca.Client has),
// a state older than Config.MaxStateAge is refreshed once, bounded by
// Config.HealthcheckTimeout, before the call is refused.
type ActiveSource interface {
	// Current returns the latest state and whether one is known.
	Current() (aca.State, bool)
	// WaitReady waits until a state is known, or ctx ends.
	WaitReady(ctx context.Context) (aca.State, error)
	// Staleness returns how long ago the current state was last
	// confirmed; a call is refused past Config.MaxStateAge.
	Staleness() time.Duration
}

// watcher and refresher are the optional parts of an ActiveSource.
type watcher interface {
	Watch(ctx context.Context) <-chan aca.State
}

type refresher interface {
	Refresh(ctx context.Context) (aca.State, error)
}

// QuerySource gives a feature view's batch query for [start, end) from
// region r's metadata service: the opaque hqsPayload and its
// hqsPayloadSignature. The client always asks the active region, since the
// signature is for that region's query service. [MetadataQueries] adapts
// *metadata.Client.
type QuerySource interface {
	BatchQuery(ctx context.Context, r region.ID, featureView string, version int, start, end time.Time) (payload, signature string, err error)
}

// Option configures how a [Client] works: what it is given, not what it
// reads. Options are applied in order; a later one wins.
type Option func(*options)

type options struct {
	queries  QuerySource
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	logger   *slog.Logger
	mem      memory.Allocator
	dialOpts []grpc.DialOption
}

// WithQuerySource sets where batch queries come from, normally the metadata
// client through [MetadataQueries]. Required for ReadBatch; not for
// ReadTrainingDataset or Healthcheck.
func WithQuerySource(q QuerySource) Option { return func(o *options) { o.queries = q } }

// WithTracerProvider sets where spans go. Default: a no-op provider; no
// global is read.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *options) { o.tp = tp } }

// WithMeterProvider sets where metrics go. Default: a no-op provider; no
// global is read.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(o *options) { o.mp = mp } }

// WithLogger sets the logger for retries and flips. Default: logs are
// discarded.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithAllocator sets the allocator for decoded record batches. Default:
// memory.DefaultAllocator.
func WithAllocator(mem memory.Allocator) Option { return func(o *options) { o.mem = mem } }

// WithDialOptions adds gRPC dial options to every region's connection, after
// the client's own (credentials, message size), so they may override them.
// Default: none.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// ReadOption configures one read.
type ReadOption func(*readOptions)

type readOptions struct {
	wait    bool
	retries int
}

// WaitForActive makes a read that finds no active region wait for one,
// bounded by its ctx, instead of failing at once with an error wrapping
// aca.ErrNoActiveRegion. It waits for a first state only: a known state
// older than Config.MaxStateAge fails at once (aca.ErrStale). Default:
// false.
func WaitForActive(wait bool) ReadOption { return func(o *readOptions) { o.wait = wait } }

// WithRetry lets a read be run up to n more times after a retryable failure
// ([IsRetryable]): a flip of the active region, or Unavailable. Each attempt
// starts from scratch against the region active at that moment: a fresh
// batch query, GetFlightInfo and DoGet. A retry to a new region starts at
// once; a retry to the same region waits Config.RetryBackoff, doubling. A
// retry that finds no active region fails with aca.ErrNoActiveRegion
// unless the read also has WaitForActive(true).
//
// With ReadBatch and ReadTrainingDataset, which hand record batches to the
// caller as they arrive, retries cover the read up to its first record
// batch: once the caller has a batch, a restart would duplicate rows, so a
// later failure is returned to the caller. ReadBatchAll and
// ReadTrainingDatasetAll retry the whole read, discarding the partial
// result. Default: 0, no retry. Negative n means 0.
func WithRetry(n int) ReadOption { return func(o *readOptions) { o.retries = max(n, 0) } }
