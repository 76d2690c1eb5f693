package flighttest

import (
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// dataset is one served table: its record batches and the column that
// time ranges filter on.
type dataset struct {
	refs    atomic.Int64
	schema  *arrow.Schema
	recs    []arrow.RecordBatch
	timeCol int // -1: no event-time column
}

func newDataset(eventTime string, schema *arrow.Schema, recs []arrow.RecordBatch) (*dataset, error) {
	d := &dataset{schema: schema, timeCol: -1}
	if eventTime != "" {
		idx := schema.FieldIndices(eventTime)
		if len(idx) != 1 {
			return nil, fmt.Errorf("flighttest: event-time column %q not in schema", eventTime)
		}
		switch schema.Field(idx[0]).Type.ID() {
		case arrow.TIMESTAMP, arrow.INT64:
		default:
			return nil, fmt.Errorf("flighttest: event-time column %q must be a timestamp or int64", eventTime)
		}
		d.timeCol = idx[0]
	}
	for _, r := range recs {
		if !r.Schema().Equal(schema) {
			return nil, fmt.Errorf("flighttest: record schema %v differs from %v", r.Schema(), schema)
		}
	}
	for _, r := range recs {
		r.Retain()
	}
	d.recs = slices.Clone(recs)
	d.refs.Store(1)
	return d, nil
}

// refs counts the server's own reference plus one per stream serving the
// dataset, so replacing or closing never frees records mid-stream.
func (d *dataset) retain() { d.refs.Add(1) }

func (d *dataset) release() {
	if d.refs.Add(-1) == 0 {
		for _, r := range d.recs {
			r.Release()
		}
	}
}

// parts returns the runs of rec's rows within [start, end), each as a
// zero-copy slice the caller releases.
func (d *dataset) parts(rec arrow.RecordBatch, start, end time.Time) []arrow.RecordBatch {
	if d.timeCol < 0 || (start.IsZero() && end.IsZero()) {
		rec.Retain()
		return []arrow.RecordBatch{rec}
	}
	col := rec.Column(d.timeCol)
	at := func(i int) time.Time {
		switch c := col.(type) {
		case *array.Timestamp:
			return c.Value(i).ToTime(c.DataType().(*arrow.TimestampType).Unit)
		case *array.Int64:
			return time.UnixMilli(c.Value(i))
		}
		return time.Time{}
	}
	in := func(i int) bool {
		if col.IsNull(i) {
			return false
		}
		t := at(i)
		return (start.IsZero() || !t.Before(start)) && (end.IsZero() || t.Before(end))
	}
	n := int(rec.NumRows())
	var out []arrow.RecordBatch
	for i := 0; i < n; {
		if !in(i) {
			i++
			continue
		}
		j := i + 1
		for j < n && in(j) {
			j++
		}
		out = append(out, rec.NewSlice(int64(i), int64(j)))
		i = j
	}
	return out
}
