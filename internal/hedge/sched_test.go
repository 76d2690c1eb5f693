package hedge

import (
	"sync"
	"testing"
	"time"
)

func TestSchedulerRunsDueEntriesInOrder(t *testing.T) {
	s := newScheduler()
	defer s.close()
	var mu sync.Mutex
	var got []int
	var fired sync.WaitGroup
	start := time.Now()
	// Added out of order; an earlier entry must wake the sleeping loop.
	for _, ms := range []int{30, 10, 20} {
		fired.Add(1)
		s.after(time.Duration(ms)*time.Millisecond, func(any, int) {
			mu.Lock()
			got = append(got, ms)
			mu.Unlock()
			fired.Done()
		}, nil, 0)
	}
	fired.Wait()
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Fatalf("the last entry ran after %v, before its 30ms", el)
	}
	if len(got) != 3 || got[0] != 10 || got[1] != 20 || got[2] != 30 {
		t.Fatalf("ran in order %v", got)
	}
}

func TestSchedulerStop(t *testing.T) {
	s := newScheduler()
	defer s.close()
	ran := make(chan int, 2)
	send := func(_ any, n int) { ran <- n }
	a := s.after(10*time.Millisecond, send, nil, 1)
	s.after(20*time.Millisecond, send, nil, 2)
	if !a.stop() {
		t.Fatal("stop of a pending entry failed")
	}
	if a.stop() {
		t.Fatal("a second stop succeeded")
	}
	if v := <-ran; v != 2 {
		t.Fatalf("the stopped entry ran")
	}
	select {
	case v := <-ran:
		t.Fatalf("entry %d ran twice or the stopped one ran late", v)
	case <-time.After(30 * time.Millisecond):
	}
}

// TestSchedulerSweepsStoppedEntries: entries with a long delay that are
// stopped at once do not pile up.
func TestSchedulerSweepsStoppedEntries(t *testing.T) {
	s := newScheduler()
	defer s.close()
	for range 100_000 {
		s.after(time.Hour, func(any, int) {}, nil, 0).stop()
	}
	s.mu.Lock()
	n := len(s.h)
	s.mu.Unlock()
	if n > 2*minSweep {
		t.Fatalf("%d entries kept for 0 pending", n)
	}
}

func TestSchedulerClosed(t *testing.T) {
	s := newScheduler()
	s.after(time.Hour, func(any, int) { t.Error("ran after close") }, nil, 0)
	s.close()
	e := s.after(time.Millisecond, func(any, int) { t.Error("ran on a closed scheduler") }, nil, 0)
	if e.stop() {
		t.Fatal("an entry of a closed scheduler was pending")
	}
	time.Sleep(5 * time.Millisecond)
}
