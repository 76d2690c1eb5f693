package featurestore

import (
	"reflect"
	"unsafe"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// stopLRU stops the expiry goroutine of an expirable LRU.
//
// golang-lru/v2 (v2.0.7) starts a goroutine per cache with a TTL and
// offers no way to stop it: its Close is commented out ("it's decided to
// add functionality to close it in the version later than v2"), and the
// goroutine waits on an unexported done channel that nothing closes. A
// Client must not leak a goroutine per cache (STYLE.md), so this closes
// that channel, exactly as the library's own commented-out Close does. The
// goleak check of this package's tests fails if a later version of the
// library renames the field; then this becomes a no-op to replace with the
// library's Close.
func stopLRU[K comparable, V any](l *expirable.LRU[K, V]) {
	if l == nil {
		return
	}
	f := reflect.ValueOf(l).Elem().FieldByName("done")
	if !f.IsValid() || f.Kind() != reflect.Chan || f.Type().Elem() != reflect.TypeFor[struct{}]() {
		return
	}
	ch := *(*chan struct{})(unsafe.Pointer(f.UnsafeAddr()))
	if ch == nil {
		return
	}
	select {
	case <-ch: // already closed
	default:
		close(ch)
	}
}
