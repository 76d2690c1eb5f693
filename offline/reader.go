package offline

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/region"
)

var _ array.RecordReader = (*Reader)(nil)

// Reader streams the record batches of one read from one region. It is an
// array.RecordReader: call Next until it returns false, then Err. The batch
// from RecordBatch is valid until the next call to Next or the last
// Release; Retain it to keep it longer.
//
// Before it hands out each batch the Reader checks that its region is still
// the active one; if the ACA has moved on, Next returns false and Err a
// [*FlipError]. If the ActiveSource can Watch, a flip also cuts short a
// stream that is stalled.
//
// A Reader is for one goroutine, except Retain and Release. The caller that
// got it must Release it; the last Release ends the stream, stops the
// Reader's watcher goroutine and frees the current batch. The zero Reader
// is not usable.
type Reader struct {
	c      *Client
	region region.ID
	op     string
	ctx    context.Context // the caller's: its end is the caller's doing
	cancel context.CancelFunc
	tel    *op
	rdr    *flight.Reader
	refs   atomic.Int64

	primed bool // rdr holds a batch not yet handed out
	done   bool
	err    error
	rows   int64

	flip      atomic.Pointer[aca.State] // set by the watcher
	stopWatch context.CancelFunc
	watchDone chan struct{}
	once      sync.Once
}

// Region returns the region the Reader reads from.
func (r *Reader) Region() region.ID { return r.region }

// Schema returns the schema of the stream.
func (r *Reader) Schema() *arrow.Schema { return r.rdr.Schema() }

// Next moves to the next record batch. It returns false at the end of the
// stream or on an error; see Err.
func (r *Reader) Next() bool {
	if r.done {
		return false
	}
	if r.primed {
		r.primed = false
	} else if !r.rdr.Next() {
		r.finish(r.streamErr(r.rdr.Err()))
		return false
	}
	if err := r.checkActive(nil); err != nil {
		r.finish(err)
		return false
	}
	r.rows += r.rdr.RecordBatch().NumRows()
	return true
}

// RecordBatch returns the current record batch, or nil after the end.
func (r *Reader) RecordBatch() arrow.RecordBatch {
	if r.done {
		return nil
	}
	return r.rdr.RecordBatch()
}

// Record returns the current record batch.
//
// Deprecated: use RecordBatch, as array.RecordReader says.
func (r *Reader) Record() arrow.RecordBatch { return r.RecordBatch() }

// Err returns the error that ended the stream, nil at a clean end.
func (r *Reader) Err() error { return r.err }

// Retain adds a reference.
func (r *Reader) Retain() { r.refs.Add(1) }

// Release drops a reference; the last one ends the read.
func (r *Reader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	r.finish(nil)
	if r.rdr != nil {
		r.rdr.Release()
	}
}

// prime reads the first batch, so that a stream failing before it gives the
// caller anything can still be retried.
func (r *Reader) prime() error {
	if r.rdr.Next() {
		if err := r.checkActive(nil); err != nil {
			r.finish(err)
			return err
		}
		r.primed = true
		return nil
	}
	err := r.streamErr(r.rdr.Err())
	r.finish(err)
	return err
}

// checkActive returns a FlipError if the region is no longer active.
func (r *Reader) checkActive(cause error) error {
	if st := r.flip.Load(); st != nil {
		return &FlipError{From: r.region, To: normID(st.Active), Op: r.op, Err: cause}
	}
	if st, ok := r.c.active.Current(); !ok || !normID(st.Active).Equal(r.region) {
		return &FlipError{From: r.region, To: normID(st.Active), Op: r.op, Err: cause}
	}
	return nil
}

// streamErr types an error of the stream; nil stays nil.
func (r *Reader) streamErr(err error) error {
	if err == nil {
		return nil
	}
	if r.ctx.Err() == nil && r.flip.Load() != nil {
		// The watcher cut the stream because of a flip.
		return r.checkActive(err)
	}
	return r.c.regionErr(r.ctx, r.region, "DoGet", err)
}

// watch starts a goroutine that cancels the stream when the ActiveSource
// reports another region, if the source can Watch. Polling Current between
// batches catches a flip on a live stream; this catches it on a stream
// stalled in the old region, which would otherwise hang until ReadTimeout.
func (r *Reader) watch() {
	w, ok := r.c.active.(watcher)
	if !ok {
		return
	}
	ctx, stop := context.WithCancel(r.c.ctx)
	done := make(chan struct{})
	started := r.c.goWatch(func() {
		defer close(done)
		ch := w.Watch(ctx)
		for {
			select {
			case <-ctx.Done():
				return
			case st, ok := <-ch:
				if !ok {
					return
				}
				if !normID(st.Active).Equal(r.region) {
					r.flip.Store(&st)
					r.cancel()
					return
				}
			}
		}
	})
	if !started {
		stop()
		return
	}
	r.stopWatch, r.watchDone = stop, done
}

// finish ends the read once: it records err, ends the stream, stops the
// watcher and ends the span.
func (r *Reader) finish(err error) {
	r.once.Do(func() {
		r.done, r.err, r.primed = true, err, false
		r.cancel()
		if r.stopWatch != nil {
			r.stopWatch()
			<-r.watchDone
		}
		if r.tel != nil {
			r.tel.end(err, r.rows)
		}
	})
}

// stop ends a Reader that was never handed out.
func (r *Reader) stop() {
	r.finish(nil)
	if r.rdr != nil {
		r.rdr.Release()
	}
}
