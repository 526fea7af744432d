package graphsdk_test

// Server-side paging, query options and JSON batching through the official Go SDK:
// msgraphcore.PageIterator over @odata.nextLink pages, $top, $filter, $count and $select through
// the request builders' QueryParameters, the /$count segment, and msgraphcore.BatchRequest with
// dependsOn chains. Each test starts its own idgraph and works in a fresh tenant, so counts are
// exact. The SDK here is the v1.0 one (msgraph-sdk-go); the beta runs point it at /beta, as the
// rest of this suite does.

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	msgraphauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/identity"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// pbConnectors is how many API connectors the paging test creates: two full default pages of
// 100 and a half one.
const pbConnectors = 250

// ---------------------------------------------------------------------------------------------
// Traffic recorder

// pbTraffic is the transport under the SDK's middleware. It records every request the SDK sends
// and refuses any that is not for the loopback server: a nextLink that led elsewhere (such as the
// real graph.microsoft.com) fails the test. Bodies of $batch exchanges are kept.
type pbTraffic struct {
	next   http.RoundTripper
	origin *url.URL
	mu     sync.Mutex
	log    []pbExchange
}

type pbExchange struct {
	Method   string
	URL      string // as the SDK sent it
	Path     string // unescaped path on the server
	Query    url.Values
	Status   int
	Err      error
	ReqBody  []byte // $batch only, decompressed
	RespBody []byte // $batch only, decompressed
}

func newPBTraffic(t *testing.T, srv *server) *pbTraffic {
	t.Helper()
	u, err := url.Parse(srv.origin)
	if err != nil {
		t.Fatal(err)
	}
	return &pbTraffic{next: srv.tr, origin: u}
}

func (p *pbTraffic) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := pbExchange{Method: req.Method, URL: req.URL.String(), Path: req.URL.Path, Query: req.URL.Query()}
	out := req.Clone(req.Context())
	if !strings.EqualFold(req.URL.Host, p.origin.Host) {
		ex.Err = fmt.Errorf("refused a request to %s: these tests talk only to the loopback server", req.URL.Host)
		p.add(ex)
		return nil, ex.Err
	}
	isBatch := strings.HasSuffix(out.URL.Path, "/$batch")
	if isBatch && req.Body != nil {
		raw, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		out.Body = io.NopCloser(bytes.NewReader(raw))
		out.ContentLength = int64(len(raw))
		ex.ReqBody = pbGunzip(raw, req.Header.Get("Content-Encoding"))
	}
	resp, err := p.next.RoundTrip(out)
	ex.Err = err
	if resp != nil {
		ex.Status = resp.StatusCode
		if isBatch {
			raw, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(raw))
			if rerr != nil {
				ex.Err = rerr
			}
			ex.RespBody = pbGunzip(raw, resp.Header.Get("Content-Encoding"))
		}
	}
	p.add(ex)
	return resp, err
}

func (p *pbTraffic) add(ex pbExchange) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = append(p.log, ex)
}

// mark is a position in the log for since.
func (p *pbTraffic) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.log)
}

// since returns the exchanges after mark with the method whose path ends with suffix.
func (p *pbTraffic) since(mark int, method, suffix string) []pbExchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []pbExchange
	for _, ex := range p.log[mark:] {
		if ex.Method == method && strings.HasSuffix(strings.ToLower(ex.Path), strings.ToLower(suffix)) {
			out = append(out, ex)
		}
	}
	return out
}

func pbGunzip(raw []byte, encoding string) []byte {
	if !strings.EqualFold(strings.TrimSpace(encoding), "gzip") {
		return raw
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return raw
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return raw
	}
	return out
}

// pbClient is the suite's Graph client (the SDK's default middleware over a transport that
// trusts the server's CA) for the app, on version, with rt under the middleware. It allows the
// loopback server only: rt never lets a request leave the machine.
func pbClient(t *testing.T, srv *server, a app, version string, rt http.RoundTripper) *msgraph.GraphServiceClient {
	t.Helper()
	auth, err := msgraphauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(srv.credential(t, a, a.ClientSecret),
		[]string{"https://graph.microsoft.com/.default"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatalf("authentication provider: %v", err)
	}
	opts := msgraph.GetDefaultClientOptions()
	hc := &http.Client{
		Transport:     khttp.NewCustomTransportWithParentTransport(rt, msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)...),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       60 * time.Second,
	}
	adapter, err := msgraph.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	if err != nil {
		t.Fatalf("request adapter: %v", err)
	}
	// The base URL is set before the client is built: NewGraphServiceClient copies it into the
	// request builders' path parameters. A direct request replaces it with the adapter's base URL,
	// but msgraphcore.BatchRequest keeps it and cuts the adapter's base URL off the result, so a
	// client built first and re-pointed with SetBaseUrl puts absolute
	// https://graph.microsoft.com/... URLs into a batch (until a direct request through the same
	// request builder happens to update them).
	adapter.SetBaseUrl(srv.origin + "/" + version)
	return msgraph.NewGraphServiceClient(adapter)
}

// pbConnector is the body of a connector with basic authentication.
func pbConnector(name, password string) models.IdentityApiConnectorable {
	basic := models.NewBasicAuthentication()
	basic.SetUsername(ptr("user-" + strings.ReplaceAll(name, " ", "-")))
	basic.SetPassword(ptr(password))
	c := models.NewIdentityApiConnector()
	c.SetDisplayName(ptr(name))
	c.SetTargetUrl(ptr("https://paging.example.com/" + strings.ReplaceAll(name, " ", "-")))
	c.SetAuthenticationConfiguration(basic)
	return c
}

// pbName is the displayName of the i-th connector of the paging test: "PB 000" ... "PB 249".
func pbName(i int) string { return fmt.Sprintf("PB %03d", i) }

// pbPassword is the password of the i-th connector; it must never come back.
func pbPassword(i int) string { return fmt.Sprintf("pb-secret-%03d-x7", i) }

// pbRegisterErrors registers the Graph error model for items of a batch, so that
// GetBatchResponseById returns an *odataerrors.ODataError for a 4xx/5xx item, as it does for a
// direct request (msgraph-sdk-go registers nothing for batches).
func pbRegisterErrors(t *testing.T) {
	t.Helper()
	mappings := abstractions.ErrorMappings{
		"4XX": odataerrors.CreateODataErrorFromDiscriminatorValue,
		"5XX": odataerrors.CreateODataErrorFromDiscriminatorValue,
	}
	if err := msgraphcore.RegisterError(msgraphcore.BatchRequestErrorRegistryKey, mappings); err != nil {
		t.Fatalf("register the batch error mapping: %v", err)
	}
	t.Cleanup(func() { _ = msgraphcore.DeRegisterError(msgraphcore.BatchRequestErrorRegistryKey) })
}

// pbCreateConnectors creates pbConnectors connectors named pbName(i), with JSON batches of 20
// (13 batches) while that works and with single POSTs otherwise, and returns their ids in the
// order they were created and how they were created.
func pbCreateConnectors(t *testing.T, client *msgraph.GraphServiceClient) (ids []string, how string) {
	t.Helper()
	ctx := testContext(t)
	connectors := client.Identity().ApiConnectors()
	adapter := client.GetAdapter()
	ids = make([]string, 0, pbConnectors)
	created := make([]bool, pbConnectors)
	batches, batchFailure := 0, ""

	for start := 0; start < pbConnectors && batchFailure == ""; start += 20 {
		batch := msgraphcore.NewBatchRequest(adapter)
		var items []msgraphcore.BatchItem
		for i := start; i < min(start+20, pbConnectors); i++ {
			info, err := connectors.ToPostRequestInformation(ctx, pbConnector(pbName(i), pbPassword(i)), nil)
			if err != nil {
				t.Fatalf("ToPostRequestInformation: %v", err)
			}
			item, err := batch.AddBatchRequestStep(*info)
			if err != nil {
				t.Fatalf("AddBatchRequestStep %d: %v", i, err)
			}
			items = append(items, item)
		}
		resp, err := batch.Send(ctx, adapter)
		if err != nil {
			batchFailure = fmt.Sprintf("batch %d: %s", batches+1, describe(err))
			break
		}
		batches++
		for k, item := range items {
			i := start + k
			got := resp.GetResponseById(deref(item.GetId()))
			if got == nil || deref(got.GetStatus()) != http.StatusCreated {
				status := int32(0)
				if got != nil {
					status = deref(got.GetStatus())
				}
				batchFailure = fmt.Sprintf("batch %d, item %d (%s): status %d, want 201; body %v", batches, k, pbName(i), status, pbBody(got))
				continue
			}
			c, err := msgraphcore.GetBatchResponseById[models.IdentityApiConnectorable](resp, deref(item.GetId()), models.CreateIdentityApiConnectorFromDiscriminatorValue)
			if err != nil || c == nil || deref(c.GetId()) == "" {
				batchFailure = fmt.Sprintf("batch %d, item %d: %v (%v)", batches, k, err, pbBody(got))
				continue
			}
			ids = append(ids, deref(c.GetId()))
			created[i] = true
		}
	}
	how = fmt.Sprintf("%d JSON batches of up to 20 POSTs (msgraphcore.BatchRequest)", batches)
	posts := 0
	for i := range pbConnectors {
		if created[i] {
			continue
		}
		c, err := connectors.Post(ctx, pbConnector(pbName(i), pbPassword(i)), nil)
		if err != nil {
			t.Fatalf("create %s: %s", pbName(i), describe(err))
		}
		ids = append(ids, deref(c.GetId()))
		created[i] = true
		posts++
	}
	if batchFailure != "" {
		how += fmt.Sprintf(" and %d single POSTs, because the batch failed: %s", posts, batchFailure)
	}
	if seen := pbDistinct(ids); seen != pbConnectors {
		t.Fatalf("created %d connectors with %d distinct ids", len(ids), seen)
	}
	return ids, how
}

func pbBody(item msgraphcore.BatchItem) any {
	if item == nil {
		return nil
	}
	return map[string]any{"status": deref(item.GetStatus()), "headers": item.GetHeaders(), "body": item.GetBody()}
}

func pbDistinct(ids []string) int {
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	return len(seen)
}

// ---------------------------------------------------------------------------------------------
// Paging

func TestPageIterator(t *testing.T) {
	srv := startServer(t)
	a := identitySliceTenant(t, srv, "b2c")
	rec := newPBTraffic(t, srv)
	pbRegisterErrors(t)

	ids, how := pbCreateConnectors(t, pbClient(t, srv, a, "v1.0", rec))
	t.Logf("created %d connectors with %s", len(ids), how)
	filtered := ids[200:250] // PB 200 ... PB 249, in creation order when created in order

	for _, version := range []string{"v1.0", "beta"} {
		t.Run(version, func(t *testing.T) {
			client := pbClient(t, srv, a, version, rec)
			connectors := client.Identity().ApiConnectors()
			collection := "/" + version + "/identity/apiConnectors"

			t.Run("Iterator", func(t *testing.T) {
				// The default page size: 3 pages (100, 100, 50), every connector exactly once, in
				// creation order, secrets masked.
				visited, requests := pbIterate(t, client, rec, nil)
				if len(requests) != 3 {
					t.Errorf("the iterator sent %d GET %s requests, want 3 (pages of 100, 100, 50): %v", len(requests), collection, pbURLs(requests))
				}
				pbCheckVisited(t, visited, ids, true)
			})

			t.Run("NextLinks", func(t *testing.T) {
				pages := pbPages(t, client, nil)
				pbCheckPageSizes(t, pages, []int{100, 100, 50})
				for i, p := range pages[:len(pages)-1] {
					pbCheckNextLink(t, fmt.Sprintf("page %d", i+1), deref(p.GetOdataNextLink()), collection, nil)
				}
				var all []string
				for _, p := range pages {
					for _, c := range p.GetValue() {
						all = append(all, deref(c.GetId()))
					}
				}
				pbCheckVisited(t, all, ids, true)
			})

			t.Run("NextLinkHost", func(t *testing.T) {
				// The SDK follows @odata.nextLink verbatim. A link on another host than the one the
				// client called sends page 2 there: the real Microsoft Graph, and (with the usual
				// allowed-hosts setting of 127.0.0.1) without a token.
				first, err := connectors.Get(testContext(t), nil)
				if err != nil {
					t.Fatalf("list: %s", describe(err))
				}
				next := deref(first.GetOdataNextLink())
				u, err := url.Parse(next)
				if err != nil || next == "" {
					t.Fatalf("first page: @odata.nextLink %q is not a URL (%v)", next, err)
				}
				if u.Scheme+"://"+u.Host != srv.origin {
					t.Errorf("@odata.nextLink %s names %s://%s, not the server the client called (%s): "+
						"msgraphcore.PageIterator would request page 2 from there", next, u.Scheme, u.Host, srv.origin)
				}
			})

			t.Run("Top40", func(t *testing.T) {
				q := &identity.ApiConnectorsRequestBuilderGetQueryParameters{Top: ptr(int32(40))}
				visited, requests := pbIterate(t, client, rec, q)
				if len(requests) != 7 {
					t.Errorf("$top=40: the iterator sent %d requests, want 7: %v", len(requests), pbURLs(requests))
				}
				for _, r := range requests {
					if got := pbQuery(r.Query, "$top"); got != "40" {
						t.Errorf("$top=40: request %s has $top=%q; the nextLink must keep the query options", r.URL, got)
					}
				}
				pbCheckVisited(t, visited, ids, true)
				pages := pbPages(t, client, q)
				pbCheckPageSizes(t, pages, []int{40, 40, 40, 40, 40, 40, 10})
				for i, p := range pages[:len(pages)-1] {
					pbCheckNextLink(t, fmt.Sprintf("$top=40 page %d", i+1), deref(p.GetOdataNextLink()), collection, map[string]string{"$top": "40"})
				}
			})

			t.Run("Filter", func(t *testing.T) {
				filter := "startswith(displayName,'PB 2')"
				q := &identity.ApiConnectorsRequestBuilderGetQueryParameters{Filter: ptr(filter)}
				visited, requests := pbIterate(t, client, rec, q)
				if len(requests) != 1 {
					t.Errorf("$filter: the iterator sent %d requests, want 1 (50 items): %v", len(requests), pbURLs(requests))
				}
				pbCheckVisited(t, visited, filtered, true)

				// The same filter in pages of 20: 20, 20, 10, with the filter kept in every link.
				q = &identity.ApiConnectorsRequestBuilderGetQueryParameters{Filter: ptr(filter), Top: ptr(int32(20))}
				visited, requests = pbIterate(t, client, rec, q)
				if len(requests) != 3 {
					t.Errorf("$filter&$top=20: the iterator sent %d requests, want 3: %v", len(requests), pbURLs(requests))
				}
				for _, r := range requests {
					if got := pbQuery(r.Query, "$filter"); got != filter {
						t.Errorf("$filter&$top=20: request %s has $filter=%q, want %q", r.URL, got, filter)
					}
				}
				pbCheckVisited(t, visited, filtered, true)
				pages := pbPages(t, client, q)
				pbCheckPageSizes(t, pages, []int{20, 20, 10})
				for i, p := range pages[:len(pages)-1] {
					pbCheckNextLink(t, fmt.Sprintf("$filter&$top=20 page %d", i+1), deref(p.GetOdataNextLink()), collection,
						map[string]string{"$top": "20", "$filter": filter})
				}

				// Nothing matches: one empty page, no nextLink.
				empty, err := connectors.Get(testContext(t), &identity.ApiConnectorsRequestBuilderGetRequestConfiguration{
					QueryParameters: &identity.ApiConnectorsRequestBuilderGetQueryParameters{Filter: ptr("displayName eq 'no such connector'")}})
				if err != nil {
					t.Fatalf("$filter matching nothing: %s", describe(err))
				}
				if n := len(empty.GetValue()); n != 0 || empty.GetOdataNextLink() != nil {
					t.Errorf("$filter matching nothing: %d items, nextLink %v; want none", n, empty.GetOdataNextLink())
				}
			})

			t.Run("Count", func(t *testing.T) {
				// $count=true: @odata.count is the number of matching items, on every page.
				for _, c := range []struct {
					name   string
					q      *identity.ApiConnectorsRequestBuilderGetQueryParameters
					want   int64
					nPages int
				}{
					{"$count=true", &identity.ApiConnectorsRequestBuilderGetQueryParameters{Count: ptr(true)}, pbConnectors, 3},
					{"$count=true&$filter", &identity.ApiConnectorsRequestBuilderGetQueryParameters{Count: ptr(true),
						Filter: ptr("startswith(displayName,'PB 2')"), Top: ptr(int32(20))}, 50, 3},
				} {
					pages := pbPages(t, client, c.q)
					if len(pages) != c.nPages {
						t.Errorf("%s: %d pages, want %d", c.name, len(pages), c.nPages)
					}
					for i, p := range pages {
						if got := p.GetOdataCount(); got == nil || *got != c.want {
							t.Errorf("%s page %d: @odata.count = %v, want %d", c.name, i+1, derefInt(got), c.want)
						}
					}
				}
				// Without $count there is no @odata.count.
				plain, err := connectors.Get(testContext(t), nil)
				if err != nil {
					t.Fatalf("list: %s", describe(err))
				}
				if plain.GetOdataCount() != nil {
					t.Errorf("without $count: @odata.count = %d, want none", *plain.GetOdataCount())
				}
				// The /$count segment, plain and filtered.
				n, err := connectors.Count().Get(testContext(t), nil)
				if err != nil {
					t.Fatalf("GET %s/$count: %s", collection, describe(err))
				}
				if deref(n) != pbConnectors {
					t.Errorf("GET %s/$count = %d, want %d", collection, deref(n), pbConnectors)
				}
				n, err = connectors.Count().Get(testContext(t), &identity.ApiConnectorsCountRequestBuilderGetRequestConfiguration{
					QueryParameters: &identity.ApiConnectorsCountRequestBuilderGetQueryParameters{Filter: ptr("startswith(displayName,'PB 2')")}})
				if err != nil {
					t.Fatalf("GET %s/$count?$filter: %s", collection, describe(err))
				}
				if deref(n) != 50 {
					t.Errorf("GET %s/$count?$filter=startswith(displayName,'PB 2') = %d, want 50", collection, deref(n))
				}
			})

			t.Run("BadQuery", func(t *testing.T) {
				// The SDK surfaces the server's 400s as Graph errors.
				ctx := testContext(t)
				_, err := connectors.Get(ctx, &identity.ApiConnectorsRequestBuilderGetRequestConfiguration{
					QueryParameters: &identity.ApiConnectorsRequestBuilderGetQueryParameters{Top: ptr(int32(1000))}})
				oe := requireODataError(t, err, http.StatusBadRequest, "")
				if msg := odataMessage(oe); msg != "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive." {
					t.Errorf("$top=1000: message %q", msg)
				}
				_, err = connectors.Get(ctx, &identity.ApiConnectorsRequestBuilderGetRequestConfiguration{
					QueryParameters: &identity.ApiConnectorsRequestBuilderGetQueryParameters{Filter: ptr("startswith(displayName,")}})
				oe = requireODataError(t, err, http.StatusBadRequest, "BadRequest")
				if msg := odataMessage(oe); !strings.HasPrefix(msg, "Invalid filter clause") {
					t.Errorf("bad $filter: message %q, want it to start with %q", msg, "Invalid filter clause")
				}
				_, err = connectors.Get(ctx, &identity.ApiConnectorsRequestBuilderGetRequestConfiguration{
					QueryParameters: &identity.ApiConnectorsRequestBuilderGetQueryParameters{Skip: ptr(int32(5))}})
				requireODataError(t, err, http.StatusBadRequest, "")
			})
		})
	}

	rec.mu.Lock()
	for _, ex := range rec.log {
		if ex.Err != nil && ex.Status == 0 {
			t.Errorf("request %s %s failed in transport: %v", ex.Method, ex.URL, ex.Err)
		}
	}
	rec.mu.Unlock()
}

// pbIterate lists the connectors with q and walks every page with msgraphcore.PageIterator; it
// returns the ids in the order visited and the list requests sent (first page included).
func pbIterate(t *testing.T, client *msgraph.GraphServiceClient, rec *pbTraffic, q *identity.ApiConnectorsRequestBuilderGetQueryParameters) ([]string, []pbExchange) {
	t.Helper()
	ctx := testContext(t)
	mark := rec.mark()
	var cfg *identity.ApiConnectorsRequestBuilderGetRequestConfiguration
	if q != nil {
		cfg = &identity.ApiConnectorsRequestBuilderGetRequestConfiguration{QueryParameters: q}
	}
	first, err := client.Identity().ApiConnectors().Get(ctx, cfg)
	if err != nil {
		t.Fatalf("list: %s", describe(err))
	}
	it, err := msgraphcore.NewPageIterator[models.IdentityApiConnectorable](first, client.GetAdapter(),
		models.CreateIdentityApiConnectorCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatalf("NewPageIterator: %v", err)
	}
	var ids []string
	err = it.Iterate(ctx, func(c models.IdentityApiConnectorable) bool {
		ids = append(ids, deref(c.GetId()))
		if basic, ok := c.GetAuthenticationConfiguration().(*models.BasicAuthentication); ok && deref(basic.GetPassword()) == identitySliceMask {
			// masked
		} else if q == nil || len(q.Select) == 0 {
			t.Errorf("connector %s (%s): authenticationConfiguration %T, password not the mask", deref(c.GetId()), deref(c.GetDisplayName()), c.GetAuthenticationConfiguration())
		}
		return len(ids) <= 2*pbConnectors // stop a server that pages forever
	})
	if err != nil {
		t.Fatalf("PageIterator.Iterate after %d items: %s", len(ids), describe(err))
	}
	return ids, rec.since(mark, http.MethodGet, "/identity/apiConnectors")
}

// pbPages follows @odata.nextLink by hand (the request builder's WithUrl) and returns the pages.
func pbPages(t *testing.T, client *msgraph.GraphServiceClient, q *identity.ApiConnectorsRequestBuilderGetQueryParameters) []models.IdentityApiConnectorCollectionResponseable {
	t.Helper()
	ctx := testContext(t)
	var cfg *identity.ApiConnectorsRequestBuilderGetRequestConfiguration
	if q != nil {
		cfg = &identity.ApiConnectorsRequestBuilderGetRequestConfiguration{QueryParameters: q}
	}
	page, err := client.Identity().ApiConnectors().Get(ctx, cfg)
	if err != nil {
		t.Fatalf("list: %s", describe(err))
	}
	pages := []models.IdentityApiConnectorCollectionResponseable{page}
	for next := deref(page.GetOdataNextLink()); next != ""; next = deref(page.GetOdataNextLink()) {
		if len(pages) > 2*pbConnectors {
			t.Fatalf("more than %d pages", 2*pbConnectors)
		}
		page, err = client.Identity().ApiConnectors().WithUrl(next).Get(ctx, nil)
		if err != nil {
			t.Fatalf("page %d (%s): %s", len(pages)+1, next, describe(err))
		}
		pages = append(pages, page)
	}
	return pages
}

func pbCheckPageSizes(t *testing.T, pages []models.IdentityApiConnectorCollectionResponseable, want []int) {
	t.Helper()
	var got []int
	for _, p := range pages {
		got = append(got, len(p.GetValue()))
	}
	if !slices.Equal(got, want) {
		t.Errorf("page sizes %v, want %v", got, want)
	}
}

// pbCheckNextLink checks that link is an absolute URL for the collection path with a $skiptoken
// and the query options in keep.
func pbCheckNextLink(t *testing.T, what, link, path string, keep map[string]string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || !u.IsAbs() {
		t.Errorf("%s: @odata.nextLink %q is not an absolute URL", what, link)
		return
	}
	if u.Scheme != "https" {
		t.Errorf("%s: @odata.nextLink %s is not https", what, link)
	}
	if !strings.EqualFold(u.Path, path) {
		t.Errorf("%s: @odata.nextLink path %q, want %q", what, u.Path, path)
	}
	q := u.Query()
	if pbQuery(q, "$skiptoken") == "" {
		t.Errorf("%s: @odata.nextLink %s has no $skiptoken", what, link)
	}
	for k, v := range keep {
		if got := pbQuery(q, k); got != v {
			t.Errorf("%s: @odata.nextLink %s has %s=%q, want %q", what, link, k, got, v)
		}
	}
}

// pbQuery reads a query option by name, case-insensitively.
func pbQuery(q url.Values, name string) string {
	for k, vs := range q {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// pbCheckVisited checks that got holds the ids of want exactly once each (in the same order when
// ordered).
func pbCheckVisited(t *testing.T, got, want []string, ordered bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("visited %d items, want %d", len(got), len(want))
	}
	if d := pbDistinct(got); d != len(got) {
		t.Errorf("visited %d items but only %d distinct ids: an item repeated", len(got), d)
	}
	wantSet := map[string]bool{}
	for _, id := range want {
		wantSet[id] = true
	}
	extra := 0
	for _, id := range got {
		if !wantSet[id] {
			extra++
		}
	}
	if extra > 0 {
		t.Errorf("visited %d ids that are not among the %d expected", extra, len(want))
	}
	if ordered && len(got) == len(want) && extra == 0 && !slices.Equal(got, want) {
		first := 0
		for first < len(got) && got[first] == want[first] {
			first++
		}
		t.Errorf("items not in creation order: first difference at position %d (got %s, want %s)", first, got[first], want[first])
	}
}

func pbURLs(exs []pbExchange) []string {
	var out []string
	for _, ex := range exs {
		out = append(out, fmt.Sprintf("%s -> %d", ex.URL, ex.Status))
	}
	return out
}

// ---------------------------------------------------------------------------------------------
// $select

func TestSelect(t *testing.T) {
	srv := startServer(t)
	a := identitySliceTenant(t, srv, "b2c")
	rec := newPBTraffic(t, srv)
	setup := pbClient(t, srv, a, "v1.0", rec)
	ctx := testContext(t)
	var ids []string
	for i := range 3 {
		c, err := setup.Identity().ApiConnectors().Post(ctx, pbConnector(pbName(i), pbPassword(i)), nil)
		if err != nil {
			t.Fatalf("create: %s", describe(err))
		}
		ids = append(ids, deref(c.GetId()))
	}

	for _, version := range []string{"v1.0", "beta"} {
		t.Run(version, func(t *testing.T) {
			connectors := pbClient(t, srv, a, version, rec).Identity().ApiConnectors()
			ctx := testContext(t)

			list, err := connectors.Get(ctx, &identity.ApiConnectorsRequestBuilderGetRequestConfiguration{
				QueryParameters: &identity.ApiConnectorsRequestBuilderGetQueryParameters{Select: []string{"displayName"}}})
			if err != nil {
				t.Fatalf("$select=displayName: %s", describe(err))
			}
			if len(list.GetValue()) != len(ids) {
				t.Errorf("$select=displayName: %d items, want %d", len(list.GetValue()), len(ids))
			}
			for i, c := range list.GetValue() {
				pbCheckSelected(t, fmt.Sprintf("$select=displayName item %d", i), c)
			}
			if ctxURL, ok := list.GetAdditionalData()["@odata.context"].(*string); ok && ctxURL != nil {
				if !strings.HasSuffix(*ctxURL, "/"+version+"/$metadata#identity/apiConnectors(displayName)") {
					t.Errorf("$select=displayName: @odata.context %q, want .../%s/$metadata#identity/apiConnectors(displayName)", *ctxURL, version)
				}
			}

			// One entity.
			got, err := connectors.ByIdentityApiConnectorId(ids[0]).Get(ctx, &identity.ApiConnectorsIdentityApiConnectorItemRequestBuilderGetRequestConfiguration{
				QueryParameters: &identity.ApiConnectorsIdentityApiConnectorItemRequestBuilderGetQueryParameters{Select: []string{"displayName"}}})
			if err != nil {
				t.Fatalf("get with $select=displayName: %s", describe(err))
			}
			pbCheckSelected(t, "entity with $select=displayName", got)
			if deref(got.GetId()) != ids[0] || deref(got.GetDisplayName()) != pbName(0) {
				t.Errorf("entity with $select: id %q displayName %q, want %q %q", deref(got.GetId()), deref(got.GetDisplayName()), ids[0], pbName(0))
			}

			// A selected secret stays masked.
			list, err = connectors.Get(ctx, &identity.ApiConnectorsRequestBuilderGetRequestConfiguration{
				QueryParameters: &identity.ApiConnectorsRequestBuilderGetQueryParameters{Select: []string{"displayName", "authenticationConfiguration"}}})
			if err != nil {
				t.Fatalf("$select=displayName,authenticationConfiguration: %s", describe(err))
			}
			for _, c := range list.GetValue() {
				if c.GetTargetUrl() != nil {
					t.Errorf("$select=displayName,authenticationConfiguration: targetUrl %q is present", *c.GetTargetUrl())
				}
				pbCheckMasked(t, "$select=displayName,authenticationConfiguration", c)
			}

			// An unknown property is a 400 that names it.
			_, err = connectors.Get(ctx, &identity.ApiConnectorsRequestBuilderGetRequestConfiguration{
				QueryParameters: &identity.ApiConnectorsRequestBuilderGetQueryParameters{Select: []string{"displayName", "nope"}}})
			oe := requireODataError(t, err, http.StatusBadRequest, "")
			if msg := odataMessage(oe); msg != "Could not find a property named 'nope' on type 'microsoft.graph.identityApiConnector'." {
				t.Errorf("$select=nope: message %q", msg)
			}
		})
	}
}

// pbCheckSelected checks an item of $select=displayName: id and displayName, nothing else.
func pbCheckSelected(t *testing.T, what string, c models.IdentityApiConnectorable) {
	t.Helper()
	if c == nil {
		t.Errorf("%s: nil", what)
		return
	}
	if deref(c.GetId()) == "" || deref(c.GetDisplayName()) == "" {
		t.Errorf("%s: id %q displayName %q, want both", what, deref(c.GetId()), deref(c.GetDisplayName()))
	}
	if c.GetTargetUrl() != nil {
		t.Errorf("%s: targetUrl %q is present", what, *c.GetTargetUrl())
	}
	if c.GetAuthenticationConfiguration() != nil {
		t.Errorf("%s: authenticationConfiguration %T is present", what, c.GetAuthenticationConfiguration())
	}
	for k, v := range c.GetAdditionalData() {
		switch k {
		case "@odata.type":
		case "@odata.context": // a single entity's
			if s, ok := v.(*string); !ok || s == nil || !strings.HasSuffix(*s, "$metadata#identity/apiConnectors(displayName)/$entity") {
				t.Errorf("%s: @odata.context %v, want .../$metadata#identity/apiConnectors(displayName)/$entity", what, pbString(v))
			}
		default:
			t.Errorf("%s: unexpected property %s = %v", what, k, pbString(v))
		}
	}
}

func pbString(v any) any {
	if s, ok := v.(*string); ok && s != nil {
		return *s
	}
	return v
}

func pbCheckMasked(t *testing.T, what string, c models.IdentityApiConnectorable) {
	t.Helper()
	basic, ok := c.GetAuthenticationConfiguration().(*models.BasicAuthentication)
	if !ok {
		t.Errorf("%s: authenticationConfiguration is %T, want *models.BasicAuthentication", what, c.GetAuthenticationConfiguration())
		return
	}
	if got := deref(basic.GetPassword()); got != identitySliceMask {
		t.Errorf("%s: password = %q, want the mask %s", what, got, identitySliceMask)
	}
}

// ---------------------------------------------------------------------------------------------
// $batch

func TestBatch(t *testing.T) {
	srv := startServer(t)
	rec := newPBTraffic(t, srv)
	pbRegisterErrors(t)

	for _, version := range []string{"v1.0", "beta"} {
		t.Run(version, func(t *testing.T) {
			a := identitySliceTenant(t, srv, "b2c")
			client := pbClient(t, srv, a, version, rec)
			adapter := client.GetAdapter()
			connectors := client.Identity().ApiConnectors()
			ctx := testContext(t)

			// X exists before the batches; the direct create shows which headers a 201 carries.
			hdr := identitySliceHeaders()
			x, err := connectors.Post(ctx, pbConnector("Batch X", "batch-secret-X-1f"), &identity.ApiConnectorsRequestBuilderPostRequestConfiguration{
				Options: []abstractions.RequestOption{hdr}})
			if err != nil {
				t.Fatalf("create X: %s", describe(err))
			}
			xID := deref(x.GetId())
			directLocation := identitySliceHeader(hdr, "Location")
			xItem := connectors.ByIdentityApiConnectorId(xID)
			yID := "" // set by CreateGetPatch

			t.Run("CreateGetPatch", func(t *testing.T) {
				ctx := testContext(t)
				batch := msgraphcore.NewBatchRequest(adapter)
				create := pbStep(t, batch, func() (*abstractions.RequestInformation, error) {
					return connectors.ToPostRequestInformation(ctx, pbConnector("Batch Y", "batch-secret-Y-2e"), nil)
				})
				get := pbStep(t, batch, func() (*abstractions.RequestInformation, error) { return xItem.ToGetRequestInformation(ctx, nil) })
				patchBody := models.NewIdentityApiConnector()
				patchBody.SetDisplayName(ptr("Batch X renamed"))
				patch := pbStep(t, batch, func() (*abstractions.RequestInformation, error) {
					return xItem.ToPatchRequestInformation(ctx, patchBody, nil)
				})
				mark := rec.mark()
				resp, err := batch.Send(ctx, adapter)
				if err != nil {
					t.Fatalf("batch: %s", describe(err))
				}
				exchange := pbBatchExchange(t, rec, mark)
				t.Logf("the SDK's batch request body: %s", exchange.ReqBody)

				statuses := pbStatuses(resp, create, get, patch)
				if !slices.Equal(statuses, []int32{201, 200, 200}) {
					t.Errorf("statuses (create, get, patch) = %v, want [201 200 200] (classic profile: PATCH answers 200 + entity)\n%s", statuses, exchange.RespBody)
				}
				// The SDK reads an item's Content-Type under exactly that key (getResponsePrimaryContentType).
				for _, item := range []msgraphcore.BatchItem{create, get, patch} {
					r := resp.GetResponseById(deref(item.GetId()))
					if r == nil {
						continue
					}
					if ct := r.GetHeaders()["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
						t.Errorf("item %s: headers[\"Content-Type\"] = %q, want application/json (headers %v)", deref(item.GetId()), ct, r.GetHeaders())
					}
				}
				if r := resp.GetResponseById(deref(create.GetId())); r != nil && directLocation != "" {
					if loc := r.GetHeaders()["Location"]; !strings.Contains(loc, "/"+version+"/identity/apiConnectors/") {
						t.Errorf("create item: Location %q; a direct create answers Location %s", loc, directLocation)
					}
				}

				y, err := msgraphcore.GetBatchResponseById[models.IdentityApiConnectorable](resp, deref(create.GetId()), models.CreateIdentityApiConnectorFromDiscriminatorValue)
				if err != nil {
					t.Fatalf("create item: %s", describe(err))
				}
				pbCheckMasked(t, "batch create", y)
				yID = deref(y.GetId())
				if deref(y.GetDisplayName()) != "Batch Y" || deref(y.GetId()) == "" {
					t.Errorf("batch create: id %q displayName %q", deref(y.GetId()), deref(y.GetDisplayName()))
				}
				g, err := msgraphcore.GetBatchResponseById[models.IdentityApiConnectorable](resp, deref(get.GetId()), models.CreateIdentityApiConnectorFromDiscriminatorValue)
				if err != nil {
					t.Fatalf("get item: %s", describe(err))
				}
				pbCheckMasked(t, "batch get", g)
				if deref(g.GetId()) != xID {
					t.Errorf("batch get: id %q, want %s", deref(g.GetId()), xID)
				}
				p, err := msgraphcore.GetBatchResponseById[models.IdentityApiConnectorable](resp, deref(patch.GetId()), models.CreateIdentityApiConnectorFromDiscriminatorValue)
				if err != nil {
					t.Fatalf("patch item: %s", describe(err))
				}
				if deref(p.GetDisplayName()) != "Batch X renamed" {
					t.Errorf("batch patch: displayName %q, want %q", deref(p.GetDisplayName()), "Batch X renamed")
				}
				for _, secret := range []string{"batch-secret-X-1f", "batch-secret-Y-2e"} {
					if bytes.Contains(exchange.RespBody, []byte(secret)) {
						t.Errorf("the batch response contains the secret %q:\n%s", secret, exchange.RespBody)
					}
				}
				pbCheckRequestIDs(t, resp, create, get, patch)

				// The writes happened.
				if got, err := xItem.Get(ctx, nil); err != nil || deref(got.GetDisplayName()) != "Batch X renamed" {
					t.Errorf("X after the batch: %v, err %v", pbName2(got), err)
				}
				if got, err := connectors.ByIdentityApiConnectorId(deref(y.GetId())).Get(ctx, nil); err != nil || deref(got.GetDisplayName()) != "Batch Y" {
					t.Errorf("Y after the batch: %v, err %v", pbName2(got), err)
				}
			})

			t.Run("DependsOnChain", func(t *testing.T) {
				// patch -> get -> patch -> get: each step sees the previous one. The SDK's
				// DependsOnItem names the whole chain (["1"], ["1","2"], ...).
				ctx := testContext(t)
				batch := msgraphcore.NewBatchRequest(adapter)
				rename := func(name string) func() (*abstractions.RequestInformation, error) {
					return func() (*abstractions.RequestInformation, error) {
						b := models.NewIdentityApiConnector()
						b.SetDisplayName(ptr(name))
						return xItem.ToPatchRequestInformation(ctx, b, nil)
					}
				}
				read := func() (*abstractions.RequestInformation, error) { return xItem.ToGetRequestInformation(ctx, nil) }
				s1 := pbStep(t, batch, rename("Chain 1"))
				s2 := pbStep(t, batch, read)
				s2.DependsOnItem(s1)
				s3 := pbStep(t, batch, rename("Chain 3"))
				s3.DependsOnItem(s2)
				s4 := pbStep(t, batch, read)
				s4.DependsOnItem(s3)
				mark := rec.mark()
				resp, err := batch.Send(ctx, adapter)
				if err != nil {
					t.Fatalf("batch: %s", describe(err))
				}
				exchange := pbBatchExchange(t, rec, mark)
				if statuses := pbStatuses(resp, s1, s2, s3, s4); !slices.Equal(statuses, []int32{200, 200, 200, 200}) {
					t.Fatalf("statuses = %v, want [200 200 200 200]\n%s", statuses, exchange.RespBody)
				}
				for _, c := range []struct {
					item msgraphcore.BatchItem
					want string
				}{{s2, "Chain 1"}, {s4, "Chain 3"}} {
					got, err := msgraphcore.GetBatchResponseById[models.IdentityApiConnectorable](resp, deref(c.item.GetId()), models.CreateIdentityApiConnectorFromDiscriminatorValue)
					if err != nil {
						t.Fatalf("read item: %s", describe(err))
					}
					if deref(got.GetDisplayName()) != c.want {
						t.Errorf("a GET that depends on the rename to %q read %q", c.want, deref(got.GetDisplayName()))
					}
				}
			})

			t.Run("FailedDependency", func(t *testing.T) {
				// get (404) <- create Z <- delete X: the dependents answer 424 and do not run.
				ctx := testContext(t)
				batch := msgraphcore.NewBatchRequest(adapter)
				missing := connectors.ByIdentityApiConnectorId("00000000-0000-0000-0000-00000000dead")
				s1 := pbStep(t, batch, func() (*abstractions.RequestInformation, error) { return missing.ToGetRequestInformation(ctx, nil) })
				s2 := pbStep(t, batch, func() (*abstractions.RequestInformation, error) {
					return connectors.ToPostRequestInformation(ctx, pbConnector("Batch Z", "batch-secret-Z-3d"), nil)
				})
				s2.DependsOnItem(s1)
				s3 := pbStep(t, batch, func() (*abstractions.RequestInformation, error) { return xItem.ToDeleteRequestInformation(ctx, nil) })
				s3.DependsOnItem(s2)
				mark := rec.mark()
				resp, err := batch.Send(ctx, adapter)
				if err != nil {
					t.Fatalf("batch: %s", describe(err))
				}
				exchange := pbBatchExchange(t, rec, mark)
				if exchange.Status != http.StatusOK {
					t.Errorf("batch status %d, want 200", exchange.Status)
				}
				if statuses := pbStatuses(resp, s1, s2, s3); !slices.Equal(statuses, []int32{404, 424, 424}) {
					t.Errorf("statuses = %v, want [404 424 424]\n%s", statuses, exchange.RespBody)
				}
				_, err = msgraphcore.GetBatchResponseById[models.IdentityApiConnectorable](resp, deref(s1.GetId()), models.CreateIdentityApiConnectorFromDiscriminatorValue)
				requireODataError(t, pbWithStatus(err, 404), http.StatusNotFound, "Request_ResourceNotFound")
				_, err = msgraphcore.GetBatchResponseById[models.IdentityApiConnectorable](resp, deref(s2.GetId()), models.CreateIdentityApiConnectorFromDiscriminatorValue)
				oe := requireODataError(t, pbWithStatus(err, 424), 424, "FailedDependency")
				if msg := odataMessage(oe); !strings.Contains(msg, deref(s1.GetId())) {
					t.Errorf("424 message %q does not name the dependency %s", msg, deref(s1.GetId()))
				}
				// Nothing ran: X is still there, there is no Z.
				if _, err := xItem.Get(ctx, nil); err != nil {
					t.Errorf("X after a batch whose DELETE should not have run: %s", describe(err))
				}
				all, err := connectors.Get(ctx, nil)
				if err != nil {
					t.Fatalf("list: %s", describe(err))
				}
				for _, c := range all.GetValue() {
					if deref(c.GetDisplayName()) == "Batch Z" {
						t.Errorf("connector Batch Z was created by a request whose dependency failed")
					}
				}
			})

			t.Run("InnerQueryOptions", func(t *testing.T) {
				// GET items with query options; a bad option is that item's 400, the batch is 200.
				ctx := testContext(t)
				batch := msgraphcore.NewBatchRequest(adapter)
				good := pbStep(t, batch, func() (*abstractions.RequestInformation, error) {
					return connectors.ToGetRequestInformation(ctx, &identity.ApiConnectorsRequestBuilderGetRequestConfiguration{
						QueryParameters: &identity.ApiConnectorsRequestBuilderGetQueryParameters{
							Select: []string{"displayName"}, Filter: ptr("displayName eq 'Batch Y'"), Count: ptr(true)}})
				})
				bad := pbStep(t, batch, func() (*abstractions.RequestInformation, error) {
					return connectors.ToGetRequestInformation(ctx, &identity.ApiConnectorsRequestBuilderGetRequestConfiguration{
						QueryParameters: &identity.ApiConnectorsRequestBuilderGetQueryParameters{Top: ptr(int32(0))}})
				})
				mark := rec.mark()
				resp, err := batch.Send(ctx, adapter)
				if err != nil {
					t.Fatalf("batch: %s", describe(err))
				}
				exchange := pbBatchExchange(t, rec, mark)
				if statuses := pbStatuses(resp, good, bad); !slices.Equal(statuses, []int32{200, 400}) {
					t.Fatalf("statuses = %v, want [200 400]\n%s", statuses, exchange.RespBody)
				}
				list, err := msgraphcore.GetBatchResponseById[models.IdentityApiConnectorCollectionResponseable](resp, deref(good.GetId()),
					models.CreateIdentityApiConnectorCollectionResponseFromDiscriminatorValue)
				if err != nil {
					t.Fatalf("list item: %s", describe(err))
				}
				if n := len(list.GetValue()); n != 1 {
					t.Errorf("$filter=displayName eq 'Batch Y' in a batch: %d items, want 1", n)
				} else {
					pbCheckSelected(t, "batch $select=displayName", list.GetValue()[0])
				}
				// The count as the server sent it: msgraphcore v1.4.0 drops every number from a
				// batch item's body (batchItem.GetFieldDeserializers -> deserializeValue returns nil
				// for *float64), so the SDK's model cannot show it.
				var raw struct {
					Responses []struct {
						ID   string         `json:"id"`
						Body map[string]any `json:"body"`
					} `json:"responses"`
				}
				if err := json.Unmarshal(exchange.RespBody, &raw); err != nil {
					t.Fatalf("batch response is not JSON: %v\n%s", err, exchange.RespBody)
				}
				for _, r := range raw.Responses {
					if r.ID == deref(good.GetId()) {
						if n, ok := r.Body["@odata.count"].(float64); !ok || n != 1 {
							t.Errorf("$count=true in a batch: @odata.count %v, want 1\n%s", r.Body["@odata.count"], exchange.RespBody)
						}
					}
				}
				if got := list.GetOdataCount(); got == nil {
					t.Logf("as expected with msgraphcore v1.4.0, the SDK's batch item lost @odata.count (numbers in batch bodies become nil)")
				} else if *got != 1 {
					t.Errorf("$count=true in a batch: the SDK read @odata.count %d, want 1", *got)
				}
			})

			t.Run("Delete", func(t *testing.T) {
				// 204s: no body in the items (GetBatchResponseById must not be called on them: it
				// panics on a body-less item in msgraphcore v1.4.0).
				if yID == "" {
					t.Skip("CreateGetPatch created no Y")
				}
				ctx := testContext(t)
				batch := msgraphcore.NewBatchRequest(adapter)
				dx := pbStep(t, batch, func() (*abstractions.RequestInformation, error) { return xItem.ToDeleteRequestInformation(ctx, nil) })
				dy := pbStep(t, batch, func() (*abstractions.RequestInformation, error) {
					return connectors.ByIdentityApiConnectorId(yID).ToDeleteRequestInformation(ctx, nil)
				})
				mark := rec.mark()
				resp, err := batch.Send(ctx, adapter)
				if err != nil {
					t.Fatalf("batch: %s", describe(err))
				}
				exchange := pbBatchExchange(t, rec, mark)
				if statuses := pbStatuses(resp, dx, dy); !slices.Equal(statuses, []int32{204, 204}) {
					t.Errorf("statuses = %v, want [204 204]\n%s", statuses, exchange.RespBody)
				}
				for _, item := range []msgraphcore.BatchItem{dx, dy} {
					if r := resp.GetResponseById(deref(item.GetId())); r != nil && r.GetBody() != nil {
						t.Errorf("204 item %s has a body %v", deref(item.GetId()), r.GetBody())
					}
				}
				_, err = xItem.Get(ctx, nil)
				requireODataError(t, err, http.StatusNotFound, "Request_ResourceNotFound")
			})
		})
	}
}

// pbStep adds the request to the batch.
func pbStep(t *testing.T, batch msgraphcore.BatchRequest, build func() (*abstractions.RequestInformation, error)) msgraphcore.BatchItem {
	t.Helper()
	info, err := build()
	if err != nil {
		t.Fatalf("request information: %v", err)
	}
	item, err := batch.AddBatchRequestStep(*info)
	if err != nil {
		t.Fatalf("AddBatchRequestStep: %v", err)
	}
	return item
}

func pbStatuses(resp msgraphcore.BatchResponse, items ...msgraphcore.BatchItem) []int32 {
	var out []int32
	for _, item := range items {
		r := resp.GetResponseById(deref(item.GetId()))
		if r == nil {
			out = append(out, -1)
			continue
		}
		out = append(out, deref(r.GetStatus()))
	}
	return out
}

// pbBatchExchange is the one POST .../$batch sent after mark.
func pbBatchExchange(t *testing.T, rec *pbTraffic, mark int) pbExchange {
	t.Helper()
	exs := rec.since(mark, http.MethodPost, "/$batch")
	if len(exs) != 1 {
		t.Fatalf("%d POST $batch requests, want 1", len(exs))
	}
	return exs[0]
}

// pbCheckRequestIDs checks that the items' request-id headers, when present, are distinct.
func pbCheckRequestIDs(t *testing.T, resp msgraphcore.BatchResponse, items ...msgraphcore.BatchItem) {
	t.Helper()
	seen := map[string]string{}
	for _, item := range items {
		r := resp.GetResponseById(deref(item.GetId()))
		if r == nil {
			continue
		}
		for k, v := range r.GetHeaders() {
			if strings.EqualFold(k, "request-id") {
				if other, dup := seen[v]; dup {
					t.Errorf("items %s and %s share request-id %s", other, deref(item.GetId()), v)
				}
				seen[v] = deref(item.GetId())
			}
		}
	}
}

// pbWithStatus gives a Graph error parsed from a batch item its status (GetBatchResponseById
// does not set ResponseStatusCode), so requireODataError can check it.
func pbWithStatus(err error, status int) error {
	if oe, ok := err.(*odataerrors.ODataError); ok && oe.ResponseStatusCode == 0 {
		oe.ResponseStatusCode = status
	}
	return err
}

func pbName2(c models.IdentityApiConnectorable) string {
	if c == nil {
		return "<nil>"
	}
	return deref(c.GetId()) + " " + deref(c.GetDisplayName())
}
