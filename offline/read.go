package offline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/tandemfs/tandem/region"
	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc/metadata"
)

// target resolves what to read in region r: the descriptor for
// GetFlightInfo and the signature to send with DoGet ("" for none).
type target func(ctx context.Context, r region.ID) (*flight.FlightDescriptor, string, error)

// ReadBatch reads feature view featureView, version, for event times in
// [start, end) (a zero time leaves that side open) from the active region's
// query service. It asks the active region's metadata for the batch query
// (via the [QuerySource]), calls GetFlightInfo with the payload as a
// command descriptor and no header, and streams the first endpoint's
// ticket with DoGet, which carries the signature in the
// hopsworks-signature header, as hsfs's _read_query does.
//
// The caller must Release the Reader. The Reader fails with a
// [*FlipError] if the active region changes before its last record batch;
// see [WithRetry] for what is retried, and [Client.ReadBatchAll] for a read
// that retries to the end.
func (c *Client) ReadBatch(ctx context.Context, featureView string, version int, start, end time.Time, opts ...ReadOption) (*Reader, error) {
	tgt, attrs, err := c.batchTarget(featureView, version, start, end)
	if err != nil {
		return nil, err
	}
	ro := readOpts(opts)
	return retry(ctx, c, "ReadBatch", ro.retries, func(attempt int) (*Reader, error) {
		return c.open(ctx, "ReadBatch", ro, tgt, attempt, attrs)
	})
}

// ReadTrainingDataset reads the training-dataset files at path from the
// active region's query service, with a path descriptor. It is ReadBatch
// without the batch query; the same rules apply. The read carries the
// region's Certificates as hsfs sends them: on the first such read of a
// connection the client lists the service's actions and asks get-version;
// a service that answers gets the certificates JSON in the
// x-certificates-json header of every DoGet of a path, one that does not
// gets it once with the register-client-certificates action (and again
// when it answers "Please register client certificates first.", after
// which the read is tried once more).
func (c *Client) ReadTrainingDataset(ctx context.Context, path string, opts ...ReadOption) (*Reader, error) {
	tgt, attrs, err := pathTarget(path)
	if err != nil {
		return nil, err
	}
	ro := readOpts(opts)
	return retry(ctx, c, "ReadTrainingDataset", ro.retries, func(attempt int) (*Reader, error) {
		return c.open(ctx, "ReadTrainingDataset", ro, tgt, attempt, attrs)
	})
}

// ReadBatchAll is ReadBatch that collects every record batch into a table.
// With [WithRetry] it retries the whole read on a retryable failure: each
// attempt starts from scratch against the region active at that moment and
// the partial result of a failed attempt is released, so the table never
// holds a row twice. The caller must Release the table.
func (c *Client) ReadBatchAll(ctx context.Context, featureView string, version int, start, end time.Time, opts ...ReadOption) (arrow.Table, error) {
	tgt, attrs, err := c.batchTarget(featureView, version, start, end)
	if err != nil {
		return nil, err
	}
	ro := readOpts(opts)
	return retry(ctx, c, "ReadBatch", ro.retries, func(attempt int) (arrow.Table, error) {
		return c.collect(ctx, "ReadBatch", ro, tgt, attempt, attrs)
	})
}

// ReadTrainingDatasetAll is ReadTrainingDataset that collects every record
// batch into a table, retrying as ReadBatchAll does. The caller must
// Release the table.
func (c *Client) ReadTrainingDatasetAll(ctx context.Context, path string, opts ...ReadOption) (arrow.Table, error) {
	tgt, attrs, err := pathTarget(path)
	if err != nil {
		return nil, err
	}
	ro := readOpts(opts)
	return retry(ctx, c, "ReadTrainingDataset", ro.retries, func(attempt int) (arrow.Table, error) {
		return c.collect(ctx, "ReadTrainingDataset", ro, tgt, attempt, attrs)
	})
}

func readOpts(opts []ReadOption) readOptions {
	var ro readOptions
	for _, o := range opts {
		if o != nil {
			o(&ro)
		}
	}
	return ro
}

func (c *Client) batchTarget(fv string, version int, start, end time.Time) (target, []attribute.KeyValue, error) {
	if c.queries == nil {
		return nil, nil, ErrNoQuerySource
	}
	if fv == "" {
		return nil, nil, fmt.Errorf("%w: feature view name is empty", ErrInvalidArgument)
	}
	if version < 0 {
		return nil, nil, fmt.Errorf("%w: feature view version %d is negative", ErrInvalidArgument, version)
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return nil, nil, fmt.Errorf("%w: end %v is before start %v", ErrInvalidArgument, end, start)
	}
	tgt := func(ctx context.Context, r region.ID) (*flight.FlightDescriptor, string, error) {
		payload, sig, err := c.queries.BatchQuery(ctx, r, fv, version, start, end)
		if err != nil {
			if ctx.Err() == nil {
				err = withKind(ErrBatchQuery, err)
			}
			return nil, "", &RegionError{Region: r, Op: "batch query", Err: err}
		}
		if payload == "" || sig == "" {
			return nil, "", &RegionError{Region: r, Op: "batch query", Err: withKind(ErrBadQuery, errors.New("empty hqsPayload or hqsPayloadSignature"))}
		}
		return &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(payload)}, sig, nil
	}
	attrs := []attribute.KeyValue{attribute.String("tandem.feature_view", fv), attribute.Int("tandem.feature_view.version", version)}
	return tgt, attrs, nil
}

func pathTarget(path string) (target, []attribute.KeyValue, error) {
	if path == "" {
		return nil, nil, fmt.Errorf("%w: training dataset path is empty", ErrInvalidArgument)
	}
	tgt := func(context.Context, region.ID) (*flight.FlightDescriptor, string, error) {
		return &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{path}}, "", nil
	}
	return tgt, []attribute.KeyValue{attribute.String("tandem.training_dataset.path", path)}, nil
}

// retry runs f up to 1+n times while it fails with a retryable error. Every
// call the client makes is a read (GetFlightInfo, DoGet) and so idempotent;
// hsfs's rule is the same: retry only Unavailable, never an action that may
// have written (the client exposes none).
func retry[T any](ctx context.Context, c *Client, name string, n int, f func(attempt int) (T, error)) (T, error) {
	sameRegion := 0
	for attempt := 0; ; attempt++ {
		v, err := f(attempt)
		if err == nil || attempt >= n || !IsRetryable(err) || ctx.Err() != nil {
			return v, err
		}
		c.tel.retries.Add(context.Background(), 1)
		if errors.Is(err, ErrRegionChanged) {
			// A flip: the next attempt goes to the new region; no reason to wait.
			c.log.InfoContext(ctx, "offline: active region changed, reading again", "op", name, "attempt", attempt+1, "error.type", errorType(err))
			continue
		}
		d := min(c.cfg.RetryBackoff<<sameRegion, c.cfg.MaxRetryBackoff)
		sameRegion++
		c.log.InfoContext(ctx, "offline: query service unavailable, retrying", "op", name, "attempt", attempt+1, "backoff", d)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return v, err
		case <-c.ctx.Done():
			t.Stop()
			return v, ErrClosed
		}
	}
}

// open runs one attempt of a read up to its first record batch. A query
// service that asks for the certificates to be registered gets them, and
// the attempt runs once more, as hsfs's _handle_afs_exception does.
func (c *Client) open(ctx context.Context, name string, ro readOptions, tgt target, attempt int, attrs []attribute.KeyValue) (*Reader, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	callerCtx := ctx
	ctx, o := c.tel.start(ctx, name, slices.Concat(attrs, []attribute.KeyValue{attribute.Int("tandem.attempt", attempt)})...)
	fail := func(err error) (*Reader, error) {
		o.end(err, 0)
		return nil, err
	}
	r, err := c.activeRegion(ctx, ro.wait)
	if err != nil {
		return fail(err)
	}
	rc, err := c.conn(r)
	if err != nil {
		return fail(err)
	}
	o.setRegion(r, rc.addr)
	desc, sig, err := tgt(ctx, r)
	if err != nil {
		return fail(err)
	}
	isPath := desc.GetType() == flight.DescriptorPATH
	if isPath {
		if err := c.prepareCerts(ctx, rc, false); err != nil {
			return fail(c.regionErr(callerCtx, r, "certificates", err))
		}
	}
	rd, err := c.stream(ctx, callerCtx, name, r, rc, desc, sig, isPath, o)
	if err != nil && rc.certs != nil && needsRegistration(err) && callerCtx.Err() == nil {
		c.log.InfoContext(ctx, "offline: query service asks for the client certificates; registering them", "tandem.region", string(r))
		if perr := c.prepareCerts(ctx, rc, true); perr != nil {
			return fail(c.regionErr(callerCtx, r, "certificates", perr))
		}
		rd, err = c.stream(ctx, callerCtx, name, r, rc, desc, sig, isPath, o)
	}
	if err != nil {
		return fail(err)
	}
	return rd, nil
}

// stream runs GetFlightInfo and DoGet and reads the first record batch.
// Headers go with DoGet only, as in hsfs's _get_dataset: the signature for
// a command, the certificates JSON for a path on a service that answered
// get-version. GetFlightInfo carries none.
func (c *Client) stream(ctx, callerCtx context.Context, name string, r region.ID, rc *regionConn, desc *flight.FlightDescriptor, sig string, isPath bool, o *op) (*Reader, error) {
	ictx, icancel := context.WithTimeout(ctx, c.cfg.InfoTimeout)
	info, err := rc.fc.GetFlightInfo(ictx, desc)
	icancel()
	if err != nil {
		return nil, c.regionErr(callerCtx, r, "GetFlightInfo", err)
	}
	// As hsfs: the first endpoint's ticket, on the same connection.
	if len(info.GetEndpoint()) == 0 || info.GetEndpoint()[0].GetTicket() == nil {
		return nil, &RegionError{Region: r, Op: "GetFlightInfo", Err: withKind(ErrServer, errors.New("flight info has no endpoint with a ticket"))}
	}

	gctx := ctx
	switch {
	case sig != "":
		gctx = metadata.AppendToOutgoingContext(gctx, SignatureHeader, sig)
	case isPath && rc.certs != nil && rc.headerMode():
		gctx = metadata.AppendToOutgoingContext(gctx, CertificatesHeader, string(rc.certs))
	}
	sctx, scancel := context.WithTimeout(gctx, c.cfg.ReadTimeout)
	stream, err := rc.fc.DoGet(sctx, info.GetEndpoint()[0].GetTicket())
	if err != nil {
		scancel()
		return nil, c.regionErr(callerCtx, r, "DoGet", err)
	}
	// The Reader gets the span only once it is handed out: a failed
	// attempt's span is ended by open, which may still try once more.
	rd := &Reader{c: c, region: r, op: name, ctx: callerCtx, cancel: scancel}
	rd.refs.Store(1)
	rd.watch()
	// NewRecordReader reads the schema message, so a stream that fails
	// at once fails here, where a retry is still safe.
	rdr, err := flight.NewRecordReader(stream, ipc.WithAllocator(c.mem))
	if err != nil {
		err = rd.streamErr(err)
		rd.stop()
		return nil, err
	}
	rd.rdr = rdr
	if err := rd.prime(); err != nil {
		rd.stop()
		return nil, err
	}
	rd.tel = o
	return rd, nil
}

// collect runs one attempt of a read to its end and returns its rows as a
// table. On failure nothing of the attempt is kept.
func (c *Client) collect(ctx context.Context, name string, ro readOptions, tgt target, attempt int, attrs []attribute.KeyValue) (arrow.Table, error) {
	rd, err := c.open(ctx, name, ro, tgt, attempt, attrs)
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for rd.Next() {
		rec := rd.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rd.Err(); err != nil {
		return nil, err
	}
	return array.NewTableFromRecords(rd.Schema(), recs), nil
}
