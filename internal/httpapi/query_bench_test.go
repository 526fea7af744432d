package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// BenchmarkQueryPage measures one page of a filtered, paged connector list
// on a tenant with 1,000 connectors and on one with 1,000,000 (override
// with IDGRAPH_BENCH_LARGE), each on its own server and database, in the
// same run. A page must cost about the same on both: the store reads it
// through an index instead of scanning the collection.
//
//	go test ./internal/httpapi -run '^$' -bench QueryPage -benchtime 2000x -timeout 60m
func BenchmarkQueryPage(b *testing.B) {
	large := 1_000_000
	if v := os.Getenv("IDGRAPH_BENCH_LARGE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("IDGRAPH_BENCH_LARGE=%q: want an integer ≥ 1000", v)
		}
		large = n
	}
	queries := []struct{ name, query string }{
		{"startswith+top", "$filter=" + url.QueryEscape("startswith(displayName,'conn 00005')") + "&$top=10"},
		{"eq", "$filter=" + url.QueryEscape("displayName eq 'conn 0000777'")},
		{"first-page", "$top=100"},
		{"orderby-desc+top", "$orderby=" + url.QueryEscape("displayName desc") + "&$top=10"},
		{"filter-in+top", "$filter=" + url.QueryEscape("displayName in ('conn 0000001','conn 0000999','conn 0000500') or startswith(displayName,'conn 000090')") + "&$top=5"},
	}
	for _, size := range []int{1000, large} {
		ts := newServerWith(b, serverOptions{})
		tenant := ts.newTenant(graph.TenantB2C, "")
		token := ts.adminToken(tenant.ID)
		start := time.Now()
		seedConnectors(b, ts, tenant.ID, size)
		b.Logf("seeded %d connectors in %v", size, time.Since(start).Round(time.Millisecond))
		for _, q := range queries {
			u := ts.URL + "/v1.0/identity/apiConnectors?" + q.query
			b.Run(fmt.Sprintf("%s/n=%d", q.name, size), func(b *testing.B) {
				for b.Loop() {
					getPage(b, u, token)
				}
			})
		}
		// A page deep in the collection, reached through its $skiptoken.
		deep := ts.URL + "/v1.0/identity/apiConnectors?$top=100"
		for range 5 {
			deep = nextLinkOf(b, ts, deep, token)
		}
		b.Run(fmt.Sprintf("skiptoken-page-6/n=%d", size), func(b *testing.B) {
			for b.Loop() {
				getPage(b, deep, token)
			}
		})
		ts.Close()
	}
}

func getPage(b *testing.B, u, token string) []byte {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d %s %v", u, resp.StatusCode, body, err)
	}
	return body
}

// nextLinkOf follows one page to the next, on the test server's host.
func nextLinkOf(b *testing.B, ts *testServer, u, token string) string {
	var page struct {
		Next string `json:"@odata.nextLink"`
	}
	if err := json.Unmarshal(getPage(b, u, token), &page); err != nil || page.Next == "" {
		b.Fatalf("no nextLink from %s: %v", u, err)
	}
	nu, err := url.Parse(page.Next)
	if err != nil {
		b.Fatal(err)
	}
	return ts.URL + nu.RequestURI()
}

// seedConnectors stores n connectors named "conn 0000000"... through the
// store, many writers at once so group commit batches them. The password
// is sealed once and reused: reads never open it.
func seedConnectors(b *testing.B, ts *testServer, tenant string, n int) {
	sealed, err := ts.Keys.Seal([]byte("benchmark-password"), "bench")
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c := graph.APIConnector{ID: uuid.NewString(), DisplayName: fmt.Sprintf("conn %07d", i),
					TargetURL: fmt.Sprintf("https://api.example.com/%d", i),
					Auth:      graph.AuthConfig{Type: graph.AuthBasic, Username: "user", Password: graph.Sealed(sealed)}}
				if _, err := store.CreateAs(context.Background(), ts.Store, tenant, store.APIConnectors, c.ID, c); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
