package sqlite

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/idgraph/idgraph/internal/store"
)

// cache keeps recently read and written records in memory, so that the hot
// point reads (the tenant of every request, the object a PATCH reads
// before it writes) do not go to SQLite. It is never stale:
//
//   - This process's writes update it in the writer, after their commit
//     and before they are acknowledged.
//   - Other processes' writes (the command line adding an app while the
//     server runs) are detected through SQLite's wal-index header, which
//     every connection to the database maps: its change counter (iChange,
//     https://www.sqlite.org/walformat.html) is incremented by every
//     commit. The cache answers only while the counter is at the value
//     the cache was last known consistent with (known); any other value
//     means a commit the cache has not accounted for, so reads go to
//     SQLite until the writer has reconciled, and the writer empties the
//     cache whenever a commit it did not make may have happened.
//   - A reader fills an entry only if the counter did not move during its
//     read, so an older snapshot never overwrites a newer write.
//
// Lists and queries always read SQLite.
type cache struct {
	shm   *shmHeader // nil: caching is off
	known atomic.Uint64

	mu      sync.RWMutex
	entries map[cacheKey]cached
}

type cacheKey struct {
	tenant, collection, key string
}

type cached struct {
	rec store.Record
	seq int64
}

// maxCached bounds the cache; a full cache drops an arbitrary half.
const maxCached = 8192

// unknownChange never equals a counter value: the header is unreadable.
const unknownChange = 1 << 40

func newCache(shm *shmHeader) *cache {
	c := &cache{shm: shm, entries: map[cacheKey]cached{}}
	c.known.Store(c.change())
	return c
}

func (c *cache) change() uint64 {
	if c.shm == nil {
		return unknownChange
	}
	v, ok := c.shm.change()
	if !ok {
		return unknownChange
	}
	return uint64(v)
}

// current reports whether the cache matches the database now.
func (c *cache) current() (uint64, bool) {
	if c.shm == nil {
		return 0, false
	}
	k := c.known.Load()
	return k, k != unknownChange && c.change() == k
}

func keyOf(tenant string, col store.Collection, id string) cacheKey {
	return cacheKey{tenant, string(col), store.Key(id)}
}

// lookup returns a copy of the cached record.
func (c *cache) lookup(k cacheKey) (store.Record, int64, bool) {
	if _, ok := c.current(); !ok {
		return store.Record{}, 0, false
	}
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok {
		return store.Record{}, 0, false
	}
	r := e.rec
	r.Data = bytes.Clone(r.Data)
	return r, e.seq, true
}

// fill stores what a reader read, if the database did not change since
// token (from current) and is still at it.
func (c *cache) fill(token uint64, k cacheKey, r store.Record, seq int64) {
	r.Data = bytes.Clone(r.Data)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known.Load() != token || c.change() != token {
		return
	}
	c.makeRoom()
	c.entries[k] = cached{r, seq}
}

func (c *cache) makeRoom() {
	if len(c.entries) < maxCached {
		return
	}
	for k := range c.entries {
		if len(c.entries) < maxCached/2 {
			break
		}
		delete(c.entries, k)
	}
}

// change is a committed write, for the cache: the record as stored, or
// its removal.
type change struct {
	key     cacheKey
	rec     store.Record
	seq     int64
	deleted bool
}

// begin is called by the writer once its transaction holds SQLite's write
// lock: no other connection can commit until it ends. A counter that moved
// since the cache was last reconciled means another process committed.
func (c *cache) begin() uint64 {
	pre := c.change()
	if pre != c.known.Load() {
		c.mu.Lock()
		clear(c.entries)
		c.known.Store(pre)
		c.mu.Unlock()
	}
	return pre
}

// end is called by the writer after its transaction ended (committed when
// committed is true) and before any of its writes is acknowledged. A
// commit adds exactly one to the counter; more means that another
// process may have committed right after it (or that SQLite restarted the
// log), so the cache is emptied rather than trusted.
func (c *cache) end(pre uint64, committed bool, changes []change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	post := c.change()
	want := pre
	if committed {
		want = pre + 1
	}
	if post != want || post == unknownChange {
		clear(c.entries)
		c.known.Store(post)
		return
	}
	if committed {
		for _, ch := range changes {
			if ch.deleted {
				delete(c.entries, ch.key)
				continue
			}
			c.makeRoom()
			r := ch.rec
			r.Data = bytes.Clone(r.Data)
			c.entries[ch.key] = cached{r, ch.seq}
		}
	}
	c.known.Store(post)
}
