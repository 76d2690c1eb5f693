package hedge

import (
	"sync/atomic"
	"time"
)

// BudgetConfig sizes a [Budget]. The zero value means the defaults.
type BudgetConfig struct {
	// Ratio is the share of requests that may be hedged over time: each
	// request deposits Ratio tokens, each hedge withdraws one.
	// Default: 0.1 (10%).
	Ratio float64
	// ReservePerSecond tokens are added each second on top, so a quiet
	// client can still hedge. Default: 10.
	ReservePerSecond float64
	// MaxTokens caps the bucket, so a long quiet period cannot buy a
	// burst of hedges during a brownout, yet a burst of stalls (a CPU
	// hiccup stalls every request in flight at once) is covered.
	// Default: 50.
	MaxTokens float64
	// MaxConcurrent caps hedges in flight. Default: 16.
	MaxConcurrent int
}

func (c BudgetConfig) normalize() BudgetConfig {
	if c.Ratio <= 0 {
		c.Ratio = 0.1
	}
	if c.ReservePerSecond <= 0 {
		c.ReservePerSecond = 10
	}
	if c.MaxTokens <= 0 {
		c.MaxTokens = 50
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 16
	}
	return c
}

// milli is the bucket's fixed-point unit: 1000 milli = one hedge.
const milli = 1000

// Budget is the hedge budget shared by every request of a client. Create
// it with [NewBudget]; it is safe for concurrent use and lock-free.
type Budget struct {
	ratioMilli   int64
	reserveMilli float64 // per nanosecond
	maxMilli     int64
	maxConc      int64

	tokens   atomic.Int64 // milli-tokens
	last     atomic.Int64 // unix nanos of the last reserve refill
	inflight atomic.Int64
}

// NewBudget returns a full budget.
func NewBudget(cfg BudgetConfig) *Budget {
	cfg = cfg.normalize()
	b := &Budget{
		ratioMilli:   int64(cfg.Ratio * milli),
		reserveMilli: cfg.ReservePerSecond * milli / float64(time.Second),
		maxMilli:     int64(cfg.MaxTokens * milli),
		maxConc:      int64(cfg.MaxConcurrent),
	}
	b.tokens.Store(b.maxMilli)
	return b
}

func (b *Budget) add(n int64) {
	for {
		cur := b.tokens.Load()
		next := min(cur+n, b.maxMilli)
		if next == cur || b.tokens.CompareAndSwap(cur, next) {
			return
		}
	}
}

// Deposit records one request.
func (b *Budget) Deposit() { b.add(b.ratioMilli) }

// TryAcquire withdraws one hedge at now, if the bucket and the concurrency
// cap allow it. A true result must be followed by [Budget.Release] when
// the hedge finishes.
func (b *Budget) TryAcquire(now time.Time) bool {
	ns := now.UnixNano()
	if last := b.last.Load(); ns > last && b.last.CompareAndSwap(last, ns) && last != 0 {
		b.add(int64(float64(ns-last) * b.reserveMilli))
	}
	if b.inflight.Add(1) > b.maxConc {
		b.inflight.Add(-1)
		return false
	}
	for {
		cur := b.tokens.Load()
		if cur < milli {
			b.inflight.Add(-1)
			return false
		}
		if b.tokens.CompareAndSwap(cur, cur-milli) {
			return true
		}
	}
}

// Release returns the concurrency slot of an acquired hedge.
func (b *Budget) Release() { b.inflight.Add(-1) }

// Tokens is the number of whole hedges the bucket holds now.
func (b *Budget) Tokens() float64 { return float64(b.tokens.Load()) / milli }

// InFlight is the number of hedges in flight.
func (b *Budget) InFlight() int64 { return b.inflight.Load() }
