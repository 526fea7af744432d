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
	shm     *shmHeader // nil: caching is off
	off     atomic.Bool
	known   atomic.Pointer[walState] // nil: unknown
	writing atomic.Bool              // the writer is between begin and end

	mu      sync.RWMutex
	entries map[cacheKey]cached
}

// walState is what the cache compares of the wal-index header: the change
// counter (word 0) and the log's position, checksum and salts.
type walState [6]uint32

type cacheKey struct {
	tenant, collection, key string
}

type cached struct {
	rec store.Record
	seq int64
}

// maxCached bounds the cache; a full cache drops an arbitrary half.
const maxCached = 8192

func newCache(shm *shmHeader) *cache {
	c := &cache{shm: shm, entries: map[cacheKey]cached{}}
	c.known.Store(c.state())
	return c
}

// state reads the header; nil when it cannot be read.
func (c *cache) state() *walState {
	if c.shm == nil || c.off.Load() {
		return nil
	}
	st, ok := c.shm.state()
	if !ok {
		return nil
	}
	return &st
}

// current reports whether the cache matches the database now.
func (c *cache) current() (*walState, bool) {
	if c.shm == nil || c.off.Load() {
		return nil, false
	}
	k := c.known.Load()
	if k == nil {
		return nil, false
	}
	st, ok := c.shm.state()
	return k, ok && st == *k
}

// close turns the cache off for good (the store is closing: its mapping
// may no longer follow the database).
func (c *cache) close() {
	c.off.Store(true)
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

func keyOf(tenant string, col store.Collection, id string) cacheKey {
	return cacheKey{tenant, string(col), store.Key(id)}
}

// lookup returns a copy of the cached record.
func (c *cache) lookup(k cacheKey) (store.Record, int64, bool) {
	if _, ok := c.current(); !ok {
		c.resync()
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

// resync empties the cache and takes the database's present state as its
// own, so that reads use the cache again after another process committed
// while this one's writer is idle (the writer reconciles by itself).
func (c *cache) resync() {
	if c.shm == nil || c.off.Load() || c.writing.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writing.Load() {
		return
	}
	st := c.state()
	if st == nil {
		return
	}
	if k := c.known.Load(); k != nil && *k == *st {
		return
	}
	clear(c.entries)
	c.known.Store(st)
}

// fill stores what a reader read, if the database did not change since
// token (from current) and is still at it.
func (c *cache) fill(token *walState, k cacheKey, r store.Record, seq int64) {
	r.Data = bytes.Clone(r.Data)
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.state(); now == nil || c.known.Load() != token || *now != *token {
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
// lock: no other connection can commit until it ends. A header that
// changed since the cache was last reconciled means another process
// committed.
func (c *cache) begin() *walState {
	c.writing.Store(true)
	pre := c.state()
	if k := c.known.Load(); pre == nil || k == nil || *pre != *k {
		c.mu.Lock()
		clear(c.entries)
		c.known.Store(pre)
		c.mu.Unlock()
	}
	return pre
}

// end is called by the writer after its transaction ended (committed when
// committed is true) and before any of its writes is acknowledged. A
// commit adds exactly one to the change counter; anything else means that
// another process may have committed right after it (or that SQLite
// restarted the log), so the cache is emptied rather than trusted. A
// commit that does not move the counter means the mapping does not follow
// this database: the cache turns itself off.
func (c *cache) end(pre *walState, committed bool, changes []change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.writing.Store(false)
	post := c.state()
	consistent := pre != nil && post != nil
	if consistent && committed {
		if post[0] == pre[0] {
			c.off.Store(true)
			clear(c.entries)
			return
		}
		consistent = post[0] == pre[0]+1
	} else if consistent {
		consistent = *post == *pre
	}
	if !consistent {
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
