package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzBatch sends arbitrary bytes as the body of POST /{version}/$batch
// with a fixed admin token, against one server whose fixture (a connector,
// the Amazon and Apple providers, a B2C user flow) is put back after every
// input, so the state stays small and every input meets the same one.
// Invariants, for every input:
//   - the batch answers within fzBatchBudget, never with a status ≥ 500;
//   - a refused batch (non-2xx) carries Graph's error envelope and changes
//     nothing stored;
//   - an accepted batch answers 200 with one response per request, with the
//     requests' ids in their order; no inner status ≥ 500 other than 501
//     (Graph paths outside the slice); every inner error carries the
//     envelope and its own request-id; the request ids are distinct; an
//     inner 424 exactly when a dependency did not succeed;
//   - the fixture's secrets never appear in the answer (unless the input
//     itself holds them: the batch echoes request ids).
func FuzzBatch(f *testing.F) {
	fx := fzSetup(f)
	for _, b := range fzBatchSeeds(fx.connID) {
		f.Add([]byte(b))
	}
	secrets := []string{"s3cret-pw", "secret-Amazon", "apple-key"}
	f.Fuzz(func(t *testing.T, body []byte) {
		s := fx.bind(t)
		defer fx.reset(t)
		version := btVersions[len(body)%2]
		before := s.snapshot()
		start := time.Now()
		r := s.do(request{Method: "POST", Path: "/" + version + "/$batch", Token: fx.tok, Body: body})
		took := time.Since(start)
		input := strconv.Quote(string(body))
		what := "POST /" + version + "/$batch"
		if took > fzBatchBudget {
			t.Fatalf("%s took %v (budget %v)\ninput: %s", what, took, fzBatchBudget, fzShort(input))
		}
		fx.check(t, what, input, r, before, false)
		for _, sec := range secrets {
			if strings.Contains(string(r.Body), sec) && !strings.Contains(string(body), sec) {
				t.Fatalf("%s: the answer shows the secret %q\ninput: %s\nbody: %s", what, sec, fzShort(input), fzShort(string(r.Body)))
			}
		}
		if r.Status != http.StatusOK {
			return
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("%s: %s\ninput: %s\nbody: %s", what, fmt.Sprintf(format, args...), fzShort(input), fzShort(string(r.Body)))
		}
		var in struct {
			Requests []struct {
				ID        string   `json:"id"`
				DependsOn []string `json:"dependsOn"`
			} `json:"requests"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			fail("the batch was accepted but its body does not decode: %v", err)
		}
		var out struct {
			Responses []btItem `json:"responses"`
		}
		if err := json.Unmarshal(r.Body, &out); err != nil {
			fail("body: %v", err)
		}
		if len(out.Responses) != len(in.Requests) || len(in.Requests) == 0 || len(in.Requests) > 20 {
			fail("%d responses for %d requests", len(out.Responses), len(in.Requests))
		}
		status := map[string]int{}
		ids := map[string]bool{r.Header.Get("request-id"): true}
		for i, it := range out.Responses {
			if it.ID != in.Requests[i].ID {
				fail("response %d has id %q, request %q", i, it.ID, in.Requests[i].ID)
			}
			status[it.ID] = it.Status
			if it.Status >= 500 && it.Status != http.StatusNotImplemented || it.Status < 200 {
				fail("inner request %q answered %d", it.ID, it.Status)
			}
			rid := it.Headers["request-id"]
			if rid == "" || ids[rid] {
				fail("inner request %q: request-id %q missing or not distinct", it.ID, rid)
			}
			ids[rid] = true
			if it.Status >= 300 {
				var env struct {
					Error *struct {
						Code       string `json:"code"`
						Message    string `json:"message"`
						InnerError struct {
							RequestID string `json:"request-id"`
						} `json:"innerError"`
					} `json:"error"`
				}
				if err := json.Unmarshal(it.Body, &env); err != nil || env.Error == nil || env.Error.Code == "" || env.Error.Message == "" ||
					env.Error.InnerError.RequestID != rid {
					fail("inner request %q answered %d without a Graph error envelope", it.ID, it.Status)
				}
			}
		}
		for _, req := range in.Requests {
			failed := false
			for _, d := range req.DependsOn {
				if st := status[d]; st < 200 || st > 299 {
					failed = true
				}
			}
			if failed != (status[req.ID] == http.StatusFailedDependency) {
				fail("inner request %q answered %d; a dependency failed: %v", req.ID, status[req.ID], failed)
			}
		}
	})
}

// fzBatchBudget is the most one input may take. A batch of 20 writes waits
// for 20 fsyncs, so the budget is wider than a single request's.
const fzBatchBudget = 2 * time.Second

// fzBatchSeeds are valid batches over the fixture (reads, writes, Prefer,
// If-Match, dependsOn chains and failures, 20 writes) and malformed ones.
func fzBatchSeeds(connID string) []string {
	conn := "/identity/apiConnectors/" + connID
	js := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	batch := func(reqs ...map[string]any) string { return js(map[string]any{"requests": reqs}) }
	var twenty []map[string]any
	for i := range 20 {
		twenty = append(twenty, btRequest(strconv.Itoa(i), "POST", "/identity/apiConnectors", "headers", btJSON,
			"body", btConnector("Fuzz "+strconv.Itoa(i), "pw")))
	}
	return []string{
		batch(btRequest("1", "GET", "/identity/apiConnectors")),
		batch(btRequest("1", "GET", conn), btRequest("2", "get", "identityProviders/"+fzAmazonID),
			btRequest("3", "GET", "/identity/identityProviders('apple-managed-oidc')"), btRequest("4", "GET", "/identity/b2cUserFlows/"+fzFlowID)),
		batch(btRequest("1", "PATCH", conn, "headers", map[string]any{"Content-Type": "application/json", "Prefer": "return=minimal"},
			"body", map[string]any{"displayName": "Renamed"}),
			btRequest("2", "GET", conn, "dependsOn", []string{"1"})),
		batch(btRequest("1", "PATCH", "/identityProviders/"+fzAmazonID, "headers", map[string]any{"Content-Type": "application/json", "Prefer": "return=representation"},
			"body", map[string]any{"clientSecret": "new"})),
		batch(btRequest("a", "POST", "/identity/apiConnectors", "headers", btJSON, "body", btConnector("New", "pw")),
			btRequest("b", "DELETE", conn, "dependsOn", []string{"a"}, "headers", map[string]any{"If-Match": "W/\"1\""}),
			btRequest("c", "GET", "/identity/apiConnectors", "dependsOn", []string{"b"})),
		batch(btRequest("1", "GET", "/identity/apiConnectors/"+fzOtherID),
			btRequest("2", "DELETE", conn, "dependsOn", []string{"1"}),
			btRequest("3", "DELETE", "/identityProviders/"+fzAmazonID, "dependsOn", []string{"2"})),
		batch(btRequest("1", "POST", "/identityProviders", "headers", btJSON, "body", map[string]any{"name": "G", "type": "Google", "clientId": "c", "clientSecret": "s"}),
			btRequest("2", "PUT", "/identity/b2cUserFlows/"+fzFlowID+"/apiConnectorConfiguration/postFederationSignup/$ref", "headers", btJSON,
				"body", map[string]any{"@odata.id": "https://graph.microsoft.com/beta" + conn})),
		batch(btRequest("1", "GET", "/identity/apiConnectors?$select=displayName&$filter=displayName eq 'x'&$top=1&$count=true"),
			btRequest("2", "GET", "/identity/apiConnectors/$count"), btRequest("3", "GET", "/me")),
		batch(btRequest("1", "POST", conn+"/uploadClientCertificate", "headers", map[string]any{"Content-Type": "text/plain"}, "body", "e30=")),
		batch(twenty...),
		// Malformed.
		batch(append(twenty, btRequest("20", "GET", "/identity/apiConnectors"))...),
		`{"requests":[]}`,
		`{"requests":[{"id":"1","method":"GET","url":"/identity/apiConnectors"},{"id":"1","method":"GET","url":"/identityProviders"}]}`,
		`{"requests":[{"id":"a","method":"GET","url":"/x","dependsOn":["b"]},{"id":"b","method":"GET","url":"/x","dependsOn":["a"]}]}`,
		`{"requests":[{"id":"a","method":"GET","url":"/x","dependsOn":["a"]}]}`,
		`{"requests":[{"id":"a","method":"GET","url":"/x","dependsOn":["zz"]}]}`,
		`{"requests":[{"id":"1","method":"POST","url":"/$batch","headers":{"Content-Type":"application/json"},"body":{"requests":[]}}]}`,
		`{"requests":[{"id":"1","method":"GET","url":"https://graph.microsoft.com/v1.0/identityProviders"}]}`,
		`{"requests":[{"id":"1","method":"GET","url":"/beta/identityProviders"}]}`,
		`{"requests":[{"id":"1","method":"POST","url":"/identityProviders","body":{"name":"x"}}]}`,
		`{"requests":[1,"x",null]}`,
		`{"requests":[{"id":"1","method":"GET","url":"/identityProviders",`,
		`{"requests":[{"id":"1","method":"GET","url":"/identityProviders","headers":{"a b":"c"}}],"x":1}`,
	}
}
