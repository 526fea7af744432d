// Package logjson is a slog.Handler that writes the lines slog.JSONHandler
// writes, byte for byte, at a fraction of its cost for the records a
// server logs on every request: a message and flat attributes (strings,
// integers, booleans, durations, times, errors). Any other record (groups,
// floats, arbitrary values, handlers derived with WithAttrs or WithGroup)
// is written by slog.JSONHandler itself, through the same writer.
package logjson

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Handler writes JSON lines. Its zero value is not usable; see New.
type Handler struct {
	out   *lockedWriter
	level slog.Leveler
	slow  slog.Handler
}

// New returns a handler writing to w with opts, as slog.NewJSONHandler
// would. Options it does not implement itself (AddSource, ReplaceAttr)
// make it return slog.NewJSONHandler(w, opts).
func New(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	if opts.AddSource || opts.ReplaceAttr != nil {
		return slog.NewJSONHandler(w, opts)
	}
	out := &lockedWriter{w: w}
	return &Handler{out: out, level: opts.Level, slow: slog.NewJSONHandler(out, opts)}
}

// lockedWriter makes the fast and the slow path write whole lines one at
// a time, as slog's handlers do.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	min := slog.LevelInfo
	if h.level != nil {
		min = h.level.Level()
	}
	return l >= min
}

// WithAttrs implements slog.Handler (by slog.JSONHandler).
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler { return h.slow.WithAttrs(as) }

// WithGroup implements slog.Handler (by slog.JSONHandler).
func (h *Handler) WithGroup(name string) slog.Handler { return h.slow.WithGroup(name) }

var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	bp := bufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 16<<10 {
			bufs.Put(bp)
		}
	}()
	b := append((*bp)[:0], '{')
	if !r.Time.IsZero() {
		t := r.Time.Round(0)
		if y := t.Year(); y < 0 || y >= 10000 {
			return h.slow.Handle(ctx, r)
		}
		b = append(b, `"time":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":`...)
	b = appendString(b, r.Level.String())
	b = append(b, `,"msg":`...)
	b = appendString(b, r.Message)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		b, ok = appendAttr(b, a)
		return ok
	})
	if !ok {
		return h.slow.Handle(ctx, r)
	}
	b = append(b, "}\n"...)
	*bp = b
	_, err := h.out.Write(b)
	return err
}

// appendAttr appends ,"key":value; ok is false for what it leaves to
// slog.JSONHandler.
func appendAttr(b []byte, a slog.Attr) ([]byte, bool) {
	v := a.Value.Resolve()
	if a.Key == "" {
		return b, false // elided or inlined by slog's rules
	}
	b = append(b, ',')
	b = appendString(b, a.Key)
	b = append(b, ':')
	switch v.Kind() {
	case slog.KindString:
		b = appendString(b, v.String())
	case slog.KindInt64:
		b = strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		b = strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindBool:
		b = strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		b = strconv.AppendInt(b, int64(v.Duration()), 10)
	case slog.KindTime:
		t := v.Time()
		if y := t.Year(); y < 0 || y >= 10000 {
			return b, false
		}
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	case slog.KindAny:
		x := v.Any()
		err, isErr := x.(error)
		if _, jm := x.(json.Marshaler); !isErr || jm {
			return b, false
		}
		b = appendString(b, err.Error())
	default:
		return b, false
	}
	return b, true
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as slog.JSONHandler
// escapes it: quotes, backslashes and control characters; invalid UTF-8
// as U+FFFD; U+2028 and U+2029 escaped; <, > and & as they are.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
