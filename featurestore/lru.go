package featurestore

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// ttlLRU is an LRU whose entries expire after a TTL, checked when read.
//
// golang-lru/v2's expirable cache would do, but it starts a goroutine per
// cache that it offers no way to stop (v2.0.7: its Close is commented out),
// and a Client must not leak goroutines. Expiring on read needs
// no goroutine: an expired entry costs its memory until it is read or
// evicted by newer ones, which the size cap bounds. Safe for concurrent use
// (lru.Cache locks).
type ttlLRU[K comparable, V any] struct {
	ttl time.Duration
	c   *lru.Cache[K, ttlEntry[V]]
	now func() time.Time
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLLRU[K comparable, V any](size int, ttl time.Duration) *ttlLRU[K, V] {
	c, err := lru.New[K, ttlEntry[V]](size)
	if err != nil {
		// Only a non-positive size fails, and config normalisation
		// never passes one.
		panic("featurestore: " + err.Error())
	}
	return &ttlLRU[K, V]{ttl: ttl, c: c, now: time.Now}
}

// Get returns the value of k if it is present and not expired.
func (l *ttlLRU[K, V]) Get(k K) (V, bool) {
	e, ok := l.c.Get(k)
	if !ok {
		var zero V
		return zero, false
	}
	if !l.now().Before(e.expires) {
		l.c.Remove(k)
		var zero V
		return zero, false
	}
	return e.v, true
}

// Add stores v under k for the TTL.
func (l *ttlLRU[K, V]) Add(k K, v V) { l.c.Add(k, ttlEntry[V]{v: v, expires: l.now().Add(l.ttl)}) }

// Remove drops k.
func (l *ttlLRU[K, V]) Remove(k K) { l.c.Remove(k) }

// Purge drops everything.
func (l *ttlLRU[K, V]) Purge() { l.c.Purge() }

// Len is the number of entries, expired ones included.
func (l *ttlLRU[K, V]) Len() int { return l.c.Len() }
