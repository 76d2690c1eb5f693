package flighttest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/tandemfs/tandem/aca"
	"github.com/tandemfs/tandem/region"
)

// Query is the payload a [QueryFunc] from [SignedQueries] issues and the
// [Server] decodes. A zero Start or End leaves that side of the range open.
// The range is [Start, End), as in hsfs get_batch_data.
type Query struct {
	FeatureView string    `json:"featureView"`
	Version     int       `json:"version"`
	Start       time.Time `json:"start,omitzero"`
	End         time.Time `json:"end,omitzero"`
}

// ErrBadSignature is returned by [Signer.Verify] for a signature that does
// not match its payload.
var ErrBadSignature = errors.New("flighttest: bad signature")

// Signer signs payloads with HMAC-SHA256, as the fake Hopsworks would, and
// verifies them, as the query service would. Give [Signer.Verify] to
// [Config.Verify].
type Signer struct{ key []byte }

// NewSigner returns a Signer with a copy of key.
func NewSigner(key []byte) *Signer { return &Signer{key: append([]byte(nil), key...)} }

// Sign returns the hex HMAC-SHA256 of payload.
func (s *Signer) Sign(payload []byte) string {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is the signature of payload.
func (s *Signer) Verify(payload []byte, sig string) error {
	got, err := hex.DecodeString(sig)
	if err != nil {
		return ErrBadSignature
	}
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	if !hmac.Equal(got, m.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}

// QueryFunc is a batch-query source as a function. Its BatchQuery method
// gives it the shape of offline.QuerySource.
type QueryFunc func(ctx context.Context, r region.ID, featureView string, version int, start, end time.Time) (payload, signature string, err error)

// BatchQuery calls f.
func (f QueryFunc) BatchQuery(ctx context.Context, r region.ID, featureView string, version int, start, end time.Time) (string, string, error) {
	return f(ctx, r, featureView, version, start, end)
}

// SignedQueries returns a QueryFunc that issues a JSON [Query] for any
// feature view, signed by s, as Hopsworks' query/batch endpoint would.
func SignedQueries(s *Signer) QueryFunc {
	return func(ctx context.Context, _ region.ID, fv string, version int, start, end time.Time) (string, string, error) {
		if err := ctx.Err(); err != nil {
			return "", "", err
		}
		b, err := json.Marshal(Query{FeatureView: fv, Version: version, Start: start, End: end})
		if err != nil {
			return "", "", err
		}
		return string(b), s.Sign(b), nil
	}
}

// Arbiter is a fake ACA client that a test flips by hand. It has the
// methods of aca.Client that package offline uses: Current, WaitReady,
// Staleness and Watch. The zero Arbiter knows no active region, and its
// state is never stale until [Arbiter.SetStaleness].
type Arbiter struct {
	mu    sync.Mutex
	st    aca.State
	known bool
	stale time.Duration
	ready chan struct{} // closed while known
	subs  map[chan aca.State]struct{}
}

// NewArbiter returns an Arbiter that reports active as active.
func NewArbiter(active, secondary region.ID) *Arbiter {
	a := &Arbiter{}
	a.Set(aca.State{Active: active, Secondary: secondary, Epoch: 1})
	return a
}

// Set makes st the current state and tells every watcher.
func (a *Arbiter) Set(st aca.State) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st, a.known = st, true
	if a.ready == nil {
		a.ready = make(chan struct{})
	}
	select {
	case <-a.ready:
	default:
		close(a.ready)
	}
	for ch := range a.subs {
		// Latest value wins: a slow watcher sees the newest state, never a
		// backlog.
		select {
		case <-ch:
		default:
		}
		ch <- st
	}
}

// Flip swaps the active and the secondary region and bumps the epoch. It
// returns the new state.
func (a *Arbiter) Flip() aca.State {
	a.mu.Lock()
	st := aca.State{Active: a.st.Secondary, Secondary: a.st.Active, Epoch: a.st.Epoch + 1}
	a.mu.Unlock()
	a.Set(st)
	return st
}

// Clear makes the Arbiter know no active region, as an ACA client that has
// never had an answer.
func (a *Arbiter) Clear() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.known = false
	if a.ready != nil {
		select {
		case <-a.ready:
			a.ready = make(chan struct{})
		default:
		}
	}
}

// SetStaleness sets what Staleness reports: how long ago the state was
// last confirmed.
func (a *Arbiter) SetStaleness(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stale = d
}

// Staleness returns the age set by SetStaleness, 0 by default.
func (a *Arbiter) Staleness() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stale
}

// Current returns the state and whether one is known.
func (a *Arbiter) Current() (aca.State, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st, a.known
}

// WaitReady returns the state once one is known, or ctx's error.
func (a *Arbiter) WaitReady(ctx context.Context) (aca.State, error) {
	for {
		a.mu.Lock()
		if a.known {
			st := a.st
			a.mu.Unlock()
			return st, nil
		}
		if a.ready == nil {
			a.ready = make(chan struct{})
		}
		ready := a.ready
		a.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return aca.State{}, ctx.Err()
		}
	}
}

// Watch returns a channel that receives each new state until ctx is done;
// then it is closed. It holds at most the latest state.
func (a *Arbiter) Watch(ctx context.Context) <-chan aca.State {
	ch := make(chan aca.State, 1)
	a.mu.Lock()
	if a.subs == nil {
		a.subs = make(map[chan aca.State]struct{})
	}
	a.subs[ch] = struct{}{}
	a.mu.Unlock()
	context.AfterFunc(ctx, func() {
		a.mu.Lock()
		delete(a.subs, ch)
		a.mu.Unlock()
		close(ch)
	})
	return ch
}
