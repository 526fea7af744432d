package auth

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/idgraph/idgraph/internal/graph"
)

// tokenCache remembers verified tokens (by the SHA-256 of the exact token
// string) until they expire, so a client that sends the same token again
// skips the signature check. Only successes are cached.
type tokenCache struct {
	mu      sync.Mutex
	entries map[[32]byte]cachedToken
}

type cachedToken struct {
	p     graph.Principal
	until time.Time
}

// maxCachedTokens bounds the cache; when full, expired entries go first,
// then an arbitrary half.
const maxCachedTokens = 10000

func (c *tokenCache) get(raw string, now time.Time) (graph.Principal, bool) {
	key := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !now.Before(e.until) {
		return graph.Principal{}, false
	}
	return e.p, true
}

func (c *tokenCache) put(raw string, p graph.Principal, until, now time.Time) {
	key := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[[32]byte]cachedToken{}
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
	c.entries[key] = cachedToken{p: p, until: until}
}
