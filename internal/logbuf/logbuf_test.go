package logbuf

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLinesArriveWholeAndBatched writes lines from many goroutines and
// checks that every line arrives once and whole, in fewer writes than
// lines, and that Close writes the rest.
func TestLinesArriveWholeAndBatched(t *testing.T) {
	var out lockedBuffer
	w := New(&out, time.Hour) // only size and Close flush here
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				fmt.Fprintf(w, "line g=%d i=%d %s\n", g, i, strings.Repeat("x", 100))
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("%d lines arrived, want %d", len(lines), 8*500)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var g, i int
		var rest string
		if n, _ := fmt.Sscanf(l, "line g=%d i=%d %s", &g, &i, &rest); n != 3 || rest != strings.Repeat("x", 100) || seen[l] {
			t.Fatalf("torn or repeated line %q", l)
		}
		seen[l] = true
	}
	if out.writes >= len(lines)/10 {
		t.Errorf("%d writes for %d lines: not batched", out.writes, len(lines))
	}
}

// TestIntervalFlush checks that buffered lines are written without Close.
func TestIntervalFlush(t *testing.T) {
	var out lockedBuffer
	w := New(&out, time.Millisecond)
	defer w.Close()
	fmt.Fprintln(w, "hello")
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "hello"); {
		if time.Now().After(deadline) {
			t.Fatal("the line was not flushed within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
