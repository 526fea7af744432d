// Package logbuf batches log output: the request log gets one line per
// request, and writing each line with its own system call costs the server
// as much as a cache-served GET. Lines are collected in memory and written
// together at a short interval (and when the buffer grows large), so a
// crash loses at most that interval's lines.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// maxBuffered is the size at which a write flushes at once.
const maxBuffered = 256 << 10

// Writer is an io.Writer that buffers and flushes in the background. Each
// Write is kept whole, so lines of concurrent writers never interleave.
type Writer struct {
	mu   sync.Mutex
	out  io.Writer
	buf  []byte
	err  error
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// New returns a Writer that flushes to out every interval.
func New(out io.Writer, interval time.Duration) *Writer {
	w := &Writer{out: out, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				w.Flush()
			case <-w.stop:
				return
			}
		}
	}()
	return w
}

// Write buffers p. It reports the error of an earlier failed flush.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= maxBuffered {
		w.flushLocked()
	}
	return len(p), nil
}

// Flush writes what is buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	return w.err
}

func (w *Writer) flushLocked() {
	if len(w.buf) == 0 || w.err != nil {
		return
	}
	_, w.err = w.out.Write(w.buf)
	if cap(w.buf) > 4*maxBuffered {
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
}

// Close stops the background flushing and writes what is left.
func (w *Writer) Close() error {
	w.once.Do(func() { close(w.stop) })
	<-w.done
	return w.Flush()
}
