package logjson

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// both hands the same record to slog.JSONHandler and to New's handler
// (each only if it is enabled for the level), and returns the outputs.
func both(t *testing.T, opts *slog.HandlerOptions, level slog.Level, msg string, attrs ...slog.Attr) (want, got string) {
	t.Helper()
	r := slog.NewRecord(time.Date(2026, 11, 22, 11, 0, 0, 5000, time.UTC), level, msg, 0)
	r.AddAttrs(attrs...)
	var a, b bytes.Buffer
	for _, x := range []struct {
		h   slog.Handler
		out *bytes.Buffer
	}{{slog.NewJSONHandler(&a, opts), &a}, {New(&b, opts), &b}} {
		if x.h.Enabled(context.Background(), level) {
			if err := x.h.Handle(context.Background(), r.Clone()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return a.String(), b.String()
}

type marshaler struct{ X int }

func (m marshaler) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf(`{"x":%d}`, m.X)), nil }

type errMarshaler struct{}

func (errMarshaler) Error() string                { return "as error" }
func (errMarshaler) MarshalJSON() ([]byte, error) { return []byte(`"as json"`), nil }

type valuer struct{}

func (valuer) LogValue() slog.Value { return slog.StringValue("resolved") }

func TestSameLinesAsSlog(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 4, 5, 123456789, time.FixedZone("x", 3600))
	cases := map[string][]slog.Attr{
		"request": {slog.String("method", "PATCH"), slog.String("route", "PATCH /v1.0/identityProviders/{id}"),
			slog.Int("status", 204), slog.Duration("duration", 1234567*time.Nanosecond), slog.String("request_id", "6a3813f6")},
		"none":       nil,
		"kinds":      {slog.Int64("i", -9), slog.Uint64("u", 1<<63), slog.Bool("b", true), slog.Bool("f", false), slog.Time("t", at)},
		"error":      {slog.Any("error", errors.New(`disk "full"`+"\n"))},
		"escapes":    {slog.String("s", "a\"b\\c\n\r\t\x00\x1f\x7f<>&é\u2028\u2029\xff\xc3(end"), slog.String("k\"ey\n", "v")},
		"float":      {slog.Float64("f", 1.5)},
		"group":      {slog.Group("g", slog.String("a", "b"))},
		"empty key":  {slog.String("", "v")},
		"empty attr": {{}},
		"any":        {slog.Any("m", map[string]int{"a": 1})},
		"marshaler":  {slog.Any("m", marshaler{3})},
		"err+json":   {slog.Any("e", errMarshaler{})},
		"valuer":     {slog.Any("v", valuer{})},
		"year":       {slog.Time("t", time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC))},
		"dup keys":   {slog.String("a", "1"), slog.String("a", "2")},
	}
	fast := map[string]bool{"request": true, "none": true, "kinds": true, "error": true, "escapes": true, "valuer": true, "dup keys": true}
	for name, attrs := range cases {
		ok := true
		for _, a := range attrs {
			_, aok := appendAttr(nil, a)
			ok = ok && aok
		}
		if ok != fast[name] {
			t.Errorf("%s: written by the fast path = %v, want %v", name, ok, fast[name])
		}
		for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelError + 2} {
			want, got := both(t, &slog.HandlerOptions{Level: slog.LevelInfo}, level, "msg \"quoted\"\n", attrs...)
			if want != got {
				t.Errorf("%s at %v:\nslog:    %q\nlogjson: %q", name, level, want, got)
			}
		}
	}
}

func TestRecordTimes(t *testing.T) {
	for _, at := range []time.Time{{}, time.Now(), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		var a, b bytes.Buffer
		r := slog.NewRecord(at, slog.LevelInfo, "m", 0)
		r.AddAttrs(slog.String("k", "v"))
		if err := slog.NewJSONHandler(&a, nil).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if err := New(&b, nil).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("time %v:\nslog:    %q\nlogjson: %q", at, a.String(), b.String())
		}
	}
}

func TestRandomStringsAsSlog(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", " ", "\"", "\\", "\n", "\x01", "\x7f", "é", "\u2028", "\u2029", "\xff", "\xe2\x80", "𝄞", "<", "&"}
	for range 2000 {
		var s strings.Builder
		for range rng.IntN(12) {
			s.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		want, got := both(t, nil, slog.LevelInfo, s.String(), slog.String(s.String(), s.String()))
		if want != got {
			t.Fatalf("%q:\nslog:    %q\nlogjson: %q", s.String(), want, got)
		}
	}
}

func TestLevelsAndDerivedHandlers(t *testing.T) {
	var lv slog.LevelVar
	lv.Set(slog.LevelWarn)
	var buf bytes.Buffer
	l := slog.New(New(&buf, &slog.HandlerOptions{Level: &lv}))
	l.Info("hidden")
	if buf.Len() != 0 {
		t.Fatalf("info written below the warn level: %q", buf.String())
	}
	l.With("svc", "x").WithGroup("g").Warn("shown", "a", 1)
	if got := buf.String(); !strings.Contains(got, `"msg":"shown","svc":"x","g":{"a":1}}`) {
		t.Fatalf("derived handler wrote %q", got)
	}
	lv.Set(slog.LevelDebug)
	buf.Reset()
	l.Debug("now shown")
	if !strings.Contains(buf.String(), `"msg":"now shown"`) {
		t.Fatalf("level change not followed: %q", buf.String())
	}
	// Options the handler does not implement give slog's own handler.
	if _, ok := New(&buf, &slog.HandlerOptions{AddSource: true}).(*Handler); ok {
		t.Fatal("AddSource is not implemented here, but New returned its own handler")
	}
}

// lines collects writes, failing on a write that is not whole lines.
type lines struct {
	mu sync.Mutex
	n  int
	t  *testing.T
}

func (w *lines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p) == 0 || p[len(p)-1] != '\n' || bytes.Count(p, []byte("\n")) != 1 {
		w.t.Errorf("write of %q is not one line", p)
	}
	w.n++
	return len(p), nil
}

func TestConcurrentWritesAreWholeLines(t *testing.T) {
	w := &lines{t: t}
	l := slog.New(New(w, nil))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if i%10 == 0 {
					l.Info("slow path", "f", float64(i)) // through slog.JSONHandler
				} else {
					l.Info("fast path", "g", g, "i", i)
				}
			}
		})
	}
	wg.Wait()
	if w.n != 8*200 {
		t.Fatalf("%d lines written, want %d", w.n, 8*200)
	}
}

func BenchmarkRequestLine(b *testing.B) {
	attrs := []slog.Attr{slog.String("method", "PATCH"), slog.String("route", "PATCH /v1.0/identityProviders/{id}"),
		slog.Int("status", 204), slog.Duration("duration", 1234567*time.Nanosecond),
		slog.String("request_id", "6a3813f6-b984-4a98-a93d-120c6fb290f4"), slog.String("client_request_id", "6a3813f6-b984-4a98-a93d-120c6fb290f4"),
		slog.String("tid", "4f443b98-613b-47d1-b9b8-e050381c33c1"), slog.String("appid", "2c7e4c3e-6f1b-4d59-9a0c-1d0ca1d1e1a1")}
	for _, h := range []struct {
		name string
		h    slog.Handler
	}{{"slog", slog.NewJSONHandler(io.Discard, nil)}, {"logjson", New(io.Discard, nil)}} {
		l := slog.New(h.h)
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
			}
		})
	}
}
