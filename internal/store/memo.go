package store

import (
	"bytes"
	"sync"
)

// Memo remembers how recently read records decoded: every request reads
// its tenant, and a GET or a page decodes the same unchanged documents
// again and again. An entry is used only while the stored version and
// bytes are exactly those it was decoded from, so it is never stale. The
// values are shared between callers: they must not be modified (clone
// slices and maps before changing them). The zero Memo is ready to use.
type Memo[T any] struct {
	mu sync.RWMutex
	m  map[string]memoEntry[T]
}

type memoEntry[T any] struct {
	data []byte
	v    Versioned[T]
}

// maxMemo bounds the memory: a full memo starts again empty.
const maxMemo = 4096

// Decode is Decode[T](r), from the memo when r is unchanged.
func (d *Memo[T]) Decode(r Record) (Versioned[T], error) {
	k := r.Tenant + "\x00" + string(r.Collection) + "\x00" + Key(r.ID)
	d.mu.RLock()
	e, ok := d.m[k]
	d.mu.RUnlock()
	if ok && e.v.Version == r.Version && bytes.Equal(e.data, r.Data) {
		return e.v, nil
	}
	v, err := decode[T](r)
	if err != nil {
		return v, err
	}
	d.mu.Lock()
	if d.m == nil || len(d.m) >= maxMemo {
		d.m = make(map[string]memoEntry[T])
	}
	d.m[k] = memoEntry[T]{data: r.Data, v: v}
	d.mu.Unlock()
	return v, nil
}
