package httpapi

import (
	"bytes"
	"sync"

	"github.com/idgraph/idgraph/internal/store"
)

// decoded remembers how recently read stored documents decoded: a GET or
// a page decodes the same unchanged documents again and again. An entry is
// used only while the stored bytes are exactly those it was decoded from,
// so it is never stale. The values are shared between requests: only
// read-only paths (rendering) may use them.
type decoded[T any] struct {
	mu sync.RWMutex
	m  map[string]decodedEntry[T]
}

type decodedEntry[T any] struct {
	data []byte
	v    store.Versioned[T]
}

// maxDecoded bounds the memory: a full memo starts again empty.
const maxDecoded = 4096

func (d *decoded[T]) decode(r store.Record) (store.Versioned[T], error) {
	k := r.Tenant + "\x00" + string(r.Collection) + "\x00" + store.Key(r.ID)
	d.mu.RLock()
	e, ok := d.m[k]
	d.mu.RUnlock()
	if ok && e.v.Version == r.Version && bytes.Equal(e.data, r.Data) {
		return e.v, nil
	}
	v, err := store.Decode[T](r)
	if err != nil {
		return v, err
	}
	d.mu.Lock()
	if d.m == nil || len(d.m) >= maxDecoded {
		d.m = make(map[string]decodedEntry[T])
	}
	d.m[k] = decodedEntry[T]{data: r.Data, v: v}
	d.mu.Unlock()
	return v, nil
}
