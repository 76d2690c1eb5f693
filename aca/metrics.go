package aca

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// scopeName is the instrumentation scope of the client's meter.
const scopeName = "github.com/tandemfs/tandem/aca"

// Attribute keys. Ours live under tandem.*; error.type is the OTel
// semantic-convention key.
const (
	attrRegion      = attribute.Key("tandem.region")
	attrLocalRegion = attribute.Key("tandem.local_region")
	attrEndpoint    = attribute.Key("tandem.aca.endpoint")
	attrErrorType   = attribute.Key("error.type")
)

// instruments are created once, in New.
type instruments struct {
	pollErrors metric.Int64Counter
	changes    metric.Int64Counter
	reg        metric.Registration
	base       []attribute.KeyValue // the local region, when configured
}

func newInstruments(c *Client, mp metric.MeterProvider) (*instruments, error) {
	m := mp.Meter(scopeName)
	in := &instruments{}
	if c.cfg.Local != "" {
		in.base = []attribute.KeyValue{attrLocalRegion.String(string(c.cfg.Local))}
	}
	var err error
	if in.pollErrors, err = m.Int64Counter("tandem.aca.poll.errors",
		metric.WithDescription("Failed polls of one ACA endpoint, by endpoint and error type."),
		metric.WithUnit("{error}")); err != nil {
		return nil, fmt.Errorf("aca: creating metrics: %w", err)
	}
	if in.changes, err = m.Int64Counter("tandem.aca.changes",
		metric.WithDescription("Changes of the ACA state the client follows, by new active region."),
		metric.WithUnit("{change}")); err != nil {
		return nil, fmt.Errorf("aca: creating metrics: %w", err)
	}
	active, err := m.Int64ObservableGauge("tandem.aca.active",
		metric.WithDescription("1 for the active region and 0 for the secondary one; nothing before the first state is known."),
		metric.WithUnit("1"))
	if err != nil {
		return nil, fmt.Errorf("aca: creating metrics: %w", err)
	}
	staleness, err := m.Float64ObservableGauge("tandem.aca.staleness",
		metric.WithDescription("Time since the start of the round that last confirmed the ACA state (a quorum of the configured endpoints reported it)."),
		metric.WithUnit("s"))
	if err != nil {
		return nil, fmt.Errorf("aca: creating metrics: %w", err)
	}
	in.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st, ok := c.Current()
		o.ObserveFloat64(staleness, c.Staleness().Seconds(), metric.WithAttributes(in.base...))
		if ok {
			o.ObserveInt64(active, 1, metric.WithAttributes(in.with(attrRegion.String(string(st.Active)))...))
			if st.Secondary != "" {
				o.ObserveInt64(active, 0, metric.WithAttributes(in.with(attrRegion.String(string(st.Secondary)))...))
			}
		}
		return nil
	}, active, staleness)
	if err != nil {
		return nil, fmt.Errorf("aca: registering metric callback: %w", err)
	}
	return in, nil
}

// with returns the base attributes plus kv, in a new slice.
func (in *instruments) with(kv ...attribute.KeyValue) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(in.base)+len(kv))
	return append(append(out, in.base...), kv...)
}
