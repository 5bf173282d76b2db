package cutover

import "time"

// workerIdle is how long a secondary worker waits for work before it ends.
const workerIdle = 10 * time.Second

// task is one piece of secondary work.
type task interface{ run() }

// workerPool runs secondary work on reused goroutines. Handing a task to an
// idle worker costs a channel send; a new goroutine (whose stack must be
// allocated and then grown) is started only when no worker is idle. The
// number of tasks is bounded by the migration's MaxInFlight before they get
// here, so the number of busy workers is too; idle workers end after
// workerIdle, or when the migration closes.
type workerPool struct {
	work chan task
	quit chan struct{}
}

func newWorkerPool() *workerPool {
	return &workerPool{work: make(chan task), quit: make(chan struct{})}
}

// submit runs t on an idle worker, or on a new one.
func (p *workerPool) submit(t task) {
	select {
	case p.work <- t:
	default:
		go p.worker(t)
	}
}

func (p *workerPool) worker(t task) {
	t.run()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		select {
		case t := <-p.work:
			t.run()
			idle.Reset(workerIdle)
		case <-idle.C:
			return
		case <-p.quit:
			return
		}
	}
}

// stop makes idle workers end; busy ones end after their task.
func (p *workerPool) stop() { close(p.quit) }
