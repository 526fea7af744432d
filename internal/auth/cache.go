package auth

import (
	"strings"
	"sync"
	"time"

	"github.com/idgraph/idgraph/internal/graph"
)

// tokenCache remembers verified tokens (by the exact token string) until
// they expire, so a client that sends the same token again skips the
// signature check. Only successes are cached. The key is the token itself,
// not a digest of it: hashing a kilobyte-long token on every request cost
// as much as the rest of the lookup, and the map compares whole keys.
type tokenCache struct {
	mu      sync.RWMutex
	entries map[string]cachedToken
}

type cachedToken struct {
	p     graph.Principal
	until time.Time
}

// maxCachedTokens bounds the cache (tokens are one to two kilobytes); when
// full, expired entries go first, then an arbitrary half.
const maxCachedTokens = 4096

func (c *tokenCache) get(raw string, now time.Time) (graph.Principal, bool) {
	c.mu.RLock()
	e, ok := c.entries[raw]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return graph.Principal{}, false
	}
	return e.p, true
}

func (c *tokenCache) put(raw string, p graph.Principal, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cachedToken{}
	}
	if len(c.entries) >= maxCachedTokens {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < maxCachedTokens/2 {
				break
			}
			delete(c.entries, k)
		}
	}
	// A copy: raw may share memory with the request it came in.
	c.entries[strings.Clone(raw)] = cachedToken{p: p, until: until}
}
