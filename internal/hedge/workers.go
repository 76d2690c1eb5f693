package hedge

import (
	"sync"
	"time"
)

// workers runs attempts on long-lived goroutines. A fresh goroutine per
// attempt costs more than the hand-off: it starts with a small stack and
// the driver's query path grows it (runtime.copystack showed ~10% of CPU
// in BenchmarkPointLookup). Idle workers exit after idleTimeout, and all
// of them on close.
type workers struct {
	tasks chan func()
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

const idleTimeout = 30 * time.Second

func newWorkers() *workers {
	return &workers{tasks: make(chan func()), quit: make(chan struct{})}
}

// run runs f on an idle worker, or on a new one if none is idle.
func (w *workers) run(f func()) {
	select {
	case w.tasks <- f:
		return
	default:
	}
	w.wg.Add(1)
	go w.loop(f)
}

func (w *workers) loop(f func()) {
	defer w.wg.Done()
	idle := time.NewTimer(idleTimeout)
	defer idle.Stop()
	for {
		f()
		idle.Reset(idleTimeout)
		select {
		case f = <-w.tasks:
		case <-idle.C:
			return
		case <-w.quit:
			return
		}
	}
}

func (w *workers) close() {
	w.once.Do(func() { close(w.quit) })
	w.wg.Wait()
}
