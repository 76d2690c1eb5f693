package hedge

import (
	"container/heap"
	"sync"
	"sync/atomic"
	"time"
)

// scheduler runs short functions at given times, all on one goroutine.
//
// Every hedgeable request needs a hedge timer, and nearly every one is
// stopped before it fires. A runtime timer per request is costly out of
// proportion: a timer that becomes the earliest one wakes the network
// poller (a write to its eventfd and a thread wake-up), about 13% of the
// CPU of a local lookup on two cores. The scheduler sleeps until the
// earliest live entry only; a stopped entry is dropped when the loop
// reaches it, and a new entry wakes the loop only when it is due before
// the loop's planned wake-up, which is rare since delays are alike. So the
// loop wakes about once per hedge delay, not once per request.
type scheduler struct {
	base time.Time // now() is nanoseconds since base, on the monotonic clock

	mu   sync.Mutex
	h    entryHeap
	next int64 // when the loop wakes next; 0: it waits for a new entry
	// limit is the heap size at which stopped entries are swept out, so
	// a long delay under a high rate cannot pile them up.
	limit   int
	started bool
	closed  bool
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
}

// entry runs f(arg, n): a static function and its arguments rather than a
// closure, so scheduling allocates only the entry.
type entry struct {
	when  int64
	f     func(arg any, n int)
	arg   any
	n     int
	state atomic.Int32 // entryPending, entryStopped or entryFired
}

const (
	entryPending int32 = iota
	entryStopped
	entryFired
)

func newScheduler() *scheduler {
	return &scheduler{base: time.Now(), limit: minSweep, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
}

func (s *scheduler) now() int64 { return int64(time.Since(s.base)) }

// after runs f(arg, n) on the scheduler's goroutine after d, unless the
// entry is stopped first. f must be short and must not block.
func (s *scheduler) after(d time.Duration, f func(any, int), arg any, n int) *entry {
	e := &entry{when: s.now() + int64(d), f: f, arg: arg, n: n}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		e.state.Store(entryStopped)
		return e
	}
	if !s.started {
		s.started = true
		go s.loop()
	}
	if len(s.h) >= s.limit {
		s.sweep()
	}
	heap.Push(&s.h, e)
	wake := s.next == 0 || e.when < s.next
	if wake {
		s.next = e.when
	}
	s.mu.Unlock()
	if wake {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return e
}

// sweep drops the stopped entries. Doubling the limit from what is left
// keeps the cost at O(1) per entry. s.mu is held.
func (s *scheduler) sweep() {
	live := s.h[:0]
	for _, e := range s.h {
		if e.state.Load() != entryStopped {
			live = append(live, e)
		}
	}
	clear(s.h[len(live):])
	s.h = live
	heap.Init(&s.h)
	s.limit = max(minSweep, 2*len(s.h))
}

const minSweep = 1024

// stop keeps e from running; false means it already ran, is running, or
// was stopped.
func (e *entry) stop() bool { return e.state.CompareAndSwap(entryPending, entryStopped) }

func (s *scheduler) loop() {
	defer close(s.done)
	t := time.NewTimer(time.Hour)
	t.Stop()
	var due []*entry
	for {
		s.mu.Lock()
		now := s.now()
		for len(s.h) > 0 {
			top := s.h[0]
			if top.state.Load() == entryStopped {
				heap.Pop(&s.h)
				continue
			}
			if top.when > now {
				break
			}
			heap.Pop(&s.h)
			if top.state.CompareAndSwap(entryPending, entryFired) {
				due = append(due, top)
			}
		}
		s.next = 0
		if len(s.h) > 0 {
			s.next = s.h[0].when
		}
		next := s.next
		s.mu.Unlock()
		for i, e := range due {
			e.f(e.arg, e.n)
			due[i] = nil
		}
		due = due[:0]
		if next != 0 {
			t.Reset(time.Duration(next - s.now()))
		}
		select {
		case <-t.C:
		case <-s.wake:
			t.Stop()
		case <-s.quit:
			t.Stop()
			return
		}
	}
}

// close stops the loop; entries still pending never run.
func (s *scheduler) close() {
	s.mu.Lock()
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if started {
		close(s.quit)
		<-s.done
	}
}

type entryHeap []*entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].when < h[j].when }
func (h entryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)        { *h = append(*h, x.(*entry)) }
func (h *entryHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return e
}

// Timer is a function the engine will run later; see [Engine.AfterFunc].
type Timer struct{ e *entry }

// Stop keeps the function from running. It reports false if the function
// already ran, is running, or was stopped.
func (t Timer) Stop() bool { return t.e.stop() }

// AfterFunc runs f(arg, n) after d on the engine's timer goroutine, the
// one that fires hedges, unless the timer is stopped first. It is much
// cheaper than time.AfterFunc for timers that are nearly always stopped
// (see scheduler): pass a static f and its state in arg and n, and
// scheduling allocates one small entry. f must be short and must not
// block. After Close, f never runs.
func (e *Engine) AfterFunc(d time.Duration, f func(arg any, n int), arg any, n int) Timer {
	return Timer{e.sched.after(d, f, arg, n)}
}
