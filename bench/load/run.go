package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tripswitch-otel/tripswitch-go/tripswitch"
)

const (
	routerID    = "rtr_load"
	breakerName = "load-never-trips"
	metricName  = "latency"

	// serverSampleLimit is how many of the most recent samples the server
	// keeps for Samples.
	serverSampleLimit = 100_000

	connectTimeout  = 20 * time.Second
	closeTimeout    = 10 * time.Second
	shutdownTimeout = 10 * time.Second
)

// Config configures a load run.
type Config struct {
	Duration    time.Duration // how long the callers run
	Goroutines  int           // concurrent callers
	Prepared    bool          // call through tripswitch.Prepare
	SampleEvery int           // each caller times a direct/Execute pair every SampleEvery calls
	Rate        float64       // most calls per second of all callers together; 0 means unlimited
	Server      string        // a tripswitch-local binary to run as the server; "" for one in this process
	Buffer      int           // the client's buffer capacity; 0 for tripswitch.DefaultBufferCapacity
}

func (c Config) validate() error {
	switch {
	case c.Duration <= 0:
		return fmt.Errorf("duration must be positive, got %v", c.Duration)
	case c.Goroutines <= 0:
		return fmt.Errorf("goroutines must be positive, got %d", c.Goroutines)
	case c.SampleEvery <= 0:
		return fmt.Errorf("sample-every must be positive, got %d", c.SampleEvery)
	case c.Buffer < 0:
		return fmt.Errorf("buffer must not be negative, got %d", c.Buffer)
	case c.Rate < 0:
		return fmt.Errorf("rate must not be negative, got %v", c.Rate)
	}
	return nil
}

// Result is what a load run measured.
type Result struct {
	Config
	Elapsed    time.Duration // from the first call to the last
	Calls      uint64        // calls through Execute, timed ones included
	Errors     uint64        // calls that returned an error
	FirstError error         // the first such error, if any

	Direct, Execute, Overhead Quantiles // per call; Overhead is Execute minus Direct of the same pair
	Pairs                     uint64    // timed pairs

	// Accepted counts the samples of the batches the server answered with
	// 2xx, as seen by a Flush hook: what actually arrived, whatever the
	// client's Stats count.
	AcceptedAtEnd, Accepted uint64 // when the callers stopped; after Close
	Batches                 uint64 // delivery attempts after Close
	BatchTime               Quantiles

	AtEnd      tripswitch.Stats // client stats when the callers stopped
	AfterClose tripswitch.Stats // client stats after Close
	CloseErr   error            // what Close returned

	ServerKept int   // samples the server kept (at most serverSampleLimit, the most recent); -1 for a server process
	PeakRSS    int64 // bytes; -1 when unavailable
}

// CallsPerSecond is the callers' throughput.
func (r Result) CallsPerSecond() float64 { return perSecond(r.Calls, r.Elapsed) }

// DeliveredPerSecond is the samples the server accepted while the callers
// ran, per second.
func (r Result) DeliveredPerSecond() float64 { return perSecond(r.AcceptedAtEnd, r.Elapsed) }

func perSecond(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// run starts a local server, runs cfg's callers against it, writes the
// report to out and returns the figures. Cancelling ctx ends the calls
// early; the run is still reported.
func run(ctx context.Context, cfg Config, out io.Writer) (res Result, err error) {
	if err := cfg.validate(); err != nil {
		return res, err
	}
	res.Config = cfg

	var srv *server
	if cfg.Server != "" {
		srv, err = startProcess(ctx, cfg.Server, os.Stderr)
	} else {
		srv, err = startInProcess()
	}
	if err != nil {
		return res, err
	}
	defer func() {
		if serr := srv.stop(); serr != nil && err == nil {
			err = fmt.Errorf("server shutdown: %w", serr)
		}
	}()

	var flushes flushLog
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	buffer := cfg.Buffer
	if buffer == 0 {
		buffer = tripswitch.DefaultBufferCapacity
	}
	c, err := tripswitch.NewClient(cctx, srv.projectID,
		tripswitch.WithBufferCapacity(buffer),
		tripswitch.WithBaseURL(srv.baseURL),
		tripswitch.WithProjectKey(srv.projectKey),
		tripswitch.WithIngestSecret(srv.ingestSecret),
		tripswitch.WithHooks(tripswitch.Hooks{Flush: flushes.record}),
	)
	cancel()
	if err != nil {
		return res, err
	}
	closed := false
	defer func() {
		if !closed {
			cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
			defer cancel()
			_ = c.Close(cctx)
		}
	}()

	call, err := newCaller(c, cfg.Prepared)
	if err != nil {
		return res, err
	}

	writeHeader(out, cfg)
	workers := make([]*worker, cfg.Goroutines)
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &worker{
			call:  call,
			every: uint64(cfg.SampleEvery),
			pairs: newPairs(uint64(i) + 1),
		}
		if cfg.Rate > 0 {
			w.interval = time.Duration(float64(time.Second) * float64(cfg.Goroutines) / cfg.Rate)
		}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, &stop, start)
		}()
	}
	timer := time.NewTimer(cfg.Duration)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
	}
	stop.Store(true)
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.AtEnd = c.Stats()
	res.AcceptedAtEnd = flushes.accepted.Load()

	all := make([]*pairs, len(workers))
	for i, w := range workers {
		res.Calls += w.calls
		res.Errors += w.errors
		if res.FirstError == nil {
			res.FirstError = w.firstErr
		}
		all[i] = w.pairs
	}
	res.Direct, res.Execute, res.Overhead, res.Pairs = summarize(all)

	cctx, cancel = context.WithTimeout(context.Background(), closeTimeout)
	res.CloseErr = c.Close(cctx)
	cancel()
	closed = true
	res.AfterClose = c.Stats()
	res.Accepted = flushes.accepted.Load()
	res.Batches, res.BatchTime = flushes.summary()
	res.ServerKept = srv.kept()
	res.PeakRSS = peakRSS()

	writeResult(out, res)
	return res, nil
}

// callFunc makes one call through the client.
type callFunc func(ctx context.Context) (uint64, error)

func newCaller(c *tripswitch.Client, prepared bool) (callFunc, error) {
	if prepared {
		p, err := tripswitch.Prepare[uint64](c,
			tripswitch.WithBreakers(breakerName),
			tripswitch.WithRouter(routerID),
			tripswitch.WithMetric(metricName, tripswitch.Latency),
		)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (uint64, error) { return p.Execute(ctx, task) }, nil
	}
	return func(ctx context.Context) (uint64, error) {
		return tripswitch.Execute(c, ctx, task,
			tripswitch.WithBreakers(breakerName),
			tripswitch.WithRouter(routerID),
			tripswitch.WithMetric(metricName, tripswitch.Latency),
		)
	}, nil
}

// block is the input of task; a variable so the compiler cannot fold it.
var block = func() (b [256]byte) {
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}()

// task is a CPU-bound call of fixed cost (a few hundred nanoseconds):
// FNV-1a over 256 bytes.
func task() (uint64, error) {
	h := uint64(14695981039346656037)
	for _, b := range block {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return h, nil
}

// worker is one caller. Its fields are read only after loop returns.
type worker struct {
	call     callFunc
	every    uint64
	interval time.Duration // pacing between calls; 0 means none
	pairs    *pairs

	calls, errors uint64
	firstErr      error
	sink          uint64
}

// paceEvery is how many calls a paced worker makes between clock checks.
const paceEvery = 16

func (w *worker) loop(ctx context.Context, stop *atomic.Bool, start time.Time) {
	for !stop.Load() {
		var v uint64
		var err error
		if w.calls%w.every == 0 {
			var direct, exec time.Duration
			// Alternate the order so neither side always runs warm.
			if (w.calls/w.every)%2 == 0 {
				direct = w.timeDirect()
				v, exec, err = w.timeExec(ctx)
			} else {
				v, exec, err = w.timeExec(ctx)
				direct = w.timeDirect()
			}
			w.pairs.add(direct, exec)
		} else {
			v, err = w.call(ctx)
		}
		w.calls++
		w.sink += v
		if err != nil {
			w.errors++
			if w.firstErr == nil {
				w.firstErr = err
			}
		}
		if w.interval > 0 && w.calls%paceEvery == 0 {
			due := start.Add(time.Duration(w.calls) * w.interval)
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait)
			}
		}
	}
}

func (w *worker) timeDirect() time.Duration {
	t0 := time.Now()
	v, _ := task()
	d := time.Since(t0)
	w.sink += v
	return d
}

func (w *worker) timeExec(ctx context.Context) (uint64, time.Duration, error) {
	t0 := time.Now()
	v, err := w.call(ctx)
	return v, time.Since(t0), err
}

// flushLog records delivery attempts from the client's Flush hook.
type flushLog struct {
	accepted atomic.Uint64
	mu       sync.Mutex
	attempts uint64
	took     []int64 // durations of the first maxLoggedBatches attempts
}

const maxLoggedBatches = 1 << 16

func (f *flushLog) record(r tripswitch.FlushResult) {
	if r.Err == nil {
		f.accepted.Add(uint64(r.Samples))
	}
	f.mu.Lock()
	f.attempts++
	if len(f.took) < maxLoggedBatches {
		f.took = append(f.took, int64(r.Duration))
	}
	f.mu.Unlock()
}

func (f *flushLog) summary() (uint64, Quantiles) {
	f.mu.Lock()
	defer f.mu.Unlock()
	xs := make([]weighted, len(f.took))
	for i, d := range f.took {
		xs[i] = weighted{d, 1}
	}
	return f.attempts, quantiles(xs)
}
