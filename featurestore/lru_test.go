package featurestore

import (
	"testing"
	"time"
)

func TestTTLLRU(t *testing.T) {
	now := time.Unix(100, 0)
	l := newTTLLRU[string, int](2, time.Second)
	l.now = func() time.Time { return now }
	l.Add("a", 1)
	l.Add("b", 2)
	if v, ok := l.Get("a"); !ok || v != 1 {
		t.Fatalf("fresh entry: %d %v", v, ok)
	}
	l.Add("c", 3) // evicts b, the least recently used
	if _, ok := l.Get("b"); ok {
		t.Fatal("size cap not enforced")
	}
	now = now.Add(time.Second)
	if _, ok := l.Get("a"); ok {
		t.Fatal("entry served after its TTL")
	}
	if l.Len() != 1 {
		t.Fatalf("expired entry not dropped on read: len %d", l.Len())
	}
	l.Purge()
	if l.Len() != 0 {
		t.Fatal("purge left entries")
	}
}
