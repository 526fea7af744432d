package auth

import (
	"strconv"
	"testing"
	"time"

	"github.com/idgraph/idgraph/internal/graph"
)

func TestTokenCacheHitsUntilExpiryOnly(t *testing.T) {
	var c tokenCache
	now := time.Unix(1_800_000_000, 0)
	p := graph.Principal{TenantID: "t1", AppID: "a1"}
	c.put("tok-a", p, now.Add(time.Minute), now)

	if got, ok := c.get("tok-a", now); !ok || got.TenantID != "t1" || got.AppID != "a1" {
		t.Fatalf("get(tok-a) = %+v, %v; want the cached principal", got, ok)
	}
	if _, ok := c.get("tok-b", now); ok {
		t.Fatal("get(tok-b) hit: never cached")
	}
	if _, ok := c.get("tok-a"+"x", now); ok {
		t.Fatal("a longer token hit the entry of its prefix")
	}
	if _, ok := c.get("tok-a", now.Add(time.Minute)); ok {
		t.Fatal("get at the expiry instant hit; the token is expired then")
	}
}

func TestTokenCacheKeyIsACopy(t *testing.T) {
	var c tokenCache
	now := time.Unix(1_800_000_000, 0)
	buf := []byte("tok-123")
	raw := string(buf) // a string the caller may build over reused memory
	c.put(raw, graph.Principal{AppID: "a"}, now.Add(time.Hour), now)
	for k := range c.entries {
		if k != "tok-123" {
			t.Fatalf("key = %q", k)
		}
	}
	if _, ok := c.get("tok-123", now); !ok {
		t.Fatal("miss after put")
	}
}

func TestTokenCacheIsBounded(t *testing.T) {
	var c tokenCache
	now := time.Unix(1_800_000_000, 0)
	for i := range 3 * maxCachedTokens {
		c.put("tok-"+strconv.Itoa(i), graph.Principal{AppID: strconv.Itoa(i)}, now.Add(time.Hour), now)
		if len(c.entries) > maxCachedTokens {
			t.Fatalf("after %d puts the cache holds %d entries (max %d)", i+1, len(c.entries), maxCachedTokens)
		}
	}
	last := "tok-" + strconv.Itoa(3*maxCachedTokens-1)
	if p, ok := c.get(last, now); !ok || p.AppID != strconv.Itoa(3*maxCachedTokens-1) {
		t.Fatalf("the newest token is not cached: %+v %v", p, ok)
	}
}

func TestTokenCacheDropsExpiredFirst(t *testing.T) {
	var c tokenCache
	now := time.Unix(1_800_000_000, 0)
	c.put("live", graph.Principal{AppID: "live"}, now.Add(time.Hour), now)
	for i := range maxCachedTokens - 1 {
		c.put("old-"+strconv.Itoa(i), graph.Principal{}, now.Add(time.Second), now)
	}
	later := now.Add(time.Minute)
	c.put("new", graph.Principal{AppID: "new"}, later.Add(time.Hour), later)
	if len(c.entries) != 2 {
		t.Fatalf("after the sweep the cache holds %d entries; want the live one and the new one", len(c.entries))
	}
	for _, k := range []string{"live", "new"} {
		if p, ok := c.get(k, later); !ok || p.AppID != k {
			t.Fatalf("get(%s) = %+v, %v", k, p, ok)
		}
	}
}
