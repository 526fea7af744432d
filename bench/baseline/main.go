// Command baseline is the benchmark's yardstick: the least a server can do to
// answer the hot routes of idgraph. It keeps the objects in memory behind one
// RWMutex, does the same JSON work per request (decode the PATCH body, check
// property names, merge, encode the reply with the secret masked) and nothing
// else: no authentication, no durability, no OData. idgraph's throughput is
// quoted as a ratio to this server, measured in the same run on the same
// machine, since absolute numbers drift on shared machines.
//
// Routes:
//
//	PATCH /v1.0/identityProviders/{id}        204
//	GET   /v1.0/identityProviders/{id}        200, the object
//	GET   /v1.0/identityProviders             200, {"value":[...]} (first 100)
//	PATCH /beta/identity/apiConnectors/{id}   200, the updated object
//	GET   /beta/identity/apiConnectors/{id}   200, the object
//	GET   /beta/identity/apiConnectors        200, {"value":[...]} (first 100)
//
// It seeds ids prov-0..prov-{n-1} and conn-0..conn-{n-1}.
//
//	go run ./bench/baseline -addr 127.0.0.1:18080 -n 1000   # port 0 picks a free port
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"maps"
	"net"
	"net/http"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "listen address")
	n := flag.Int("n", 1000, "objects seeded per collection")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: newHandler(*n), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("baseline serving at http://%s (%d objects per collection)", ln.Addr(), *n)
	log.Fatal(srv.Serve(ln))
}

type object = map[string]any

// collection is one of the two collections served.
type collection struct {
	context  string          // @odata.context of the collection
	writable map[string]bool // properties a PATCH may set
	entity   bool            // PATCH answers 200 with the object (else 204)
	mu       sync.RWMutex
	byID     map[string]object // immutable objects, replaced on write
	order    []string
}

func (c *collection) get(id string) (object, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	o, ok := c.byID[id]
	return o, ok
}

// masked is the object as a response shows it: secrets replaced by the mask.
func masked(o object) object {
	out := maps.Clone(o)
	if _, ok := out["clientSecret"]; ok {
		out["clientSecret"] = "*****"
	}
	if a, ok := out["authenticationConfiguration"].(object); ok {
		a = maps.Clone(a)
		if _, ok := a["password"]; ok {
			a["password"] = "******"
		}
		out["authenticationConfiguration"] = a
	}
	return out
}

func newHandler(n int) http.Handler {
	providers := &collection{context: "https://graph.microsoft.com/v1.0/$metadata#identityProviders",
		writable: map[string]bool{"name": true, "clientId": true, "clientSecret": true}, byID: map[string]object{}}
	connectors := &collection{context: "https://graph.microsoft.com/beta/$metadata#identity/apiConnectors", entity: true,
		writable: map[string]bool{"displayName": true, "targetUrl": true, "authenticationConfiguration": true}, byID: map[string]object{}}
	for i := range n {
		id := fmt.Sprintf("prov-%d", i)
		providers.byID[id] = object{"id": id, "name": fmt.Sprintf("Provider %d", i), "type": "Amazon",
			"clientId": "56433757-cadd-4135-8431-2c9e3fd68ae8", "clientSecret": "provider-secret"}
		providers.order = append(providers.order, id)
		id = fmt.Sprintf("conn-%d", i)
		connectors.byID[id] = object{"id": id, "displayName": fmt.Sprintf("Connector %d", i), "targetUrl": "https://api.example.com/signup",
			"authenticationConfiguration": object{"@odata.type": "#microsoft.graph.basicAuthentication", "username": "user", "password": "connector-password"}}
		connectors.order = append(connectors.order, id)
	}
	mux := http.NewServeMux()
	for prefix, c := range map[string]*collection{"/v1.0/identityProviders": providers, "/beta/identity/apiConnectors": connectors} {
		mux.HandleFunc("GET "+prefix, c.list)
		mux.HandleFunc("GET "+prefix+"/{id}", c.getOne)
		mux.HandleFunc("PATCH "+prefix+"/{id}", c.patch)
	}
	return mux
}

func (c *collection) list(w http.ResponseWriter, r *http.Request) {
	c.mu.RLock()
	page := make([]object, 0, min(100, len(c.order)))
	for _, id := range c.order[:min(100, len(c.order))] {
		page = append(page, masked(c.byID[id]))
	}
	c.mu.RUnlock()
	writeJSON(w, http.StatusOK, object{"@odata.context": c.context, "value": page})
}

func (c *collection) getOne(w http.ResponseWriter, r *http.Request) {
	o, ok := c.get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+r.PathValue("id")+"' does not exist.")
		return
	}
	out := masked(o)
	out["@odata.context"] = c.context + "/$entity"
	writeJSON(w, http.StatusOK, out)
}

func (c *collection) patch(w http.ResponseWriter, r *http.Request) {
	var body object
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "Request_BadRequest", "The body is not a JSON object.")
		return
	}
	for k := range body {
		if !c.writable[k] {
			writeError(w, http.StatusBadRequest, "Request_BadRequest", "Property '"+k+"' cannot be updated.")
			return
		}
	}
	id := r.PathValue("id")
	c.mu.Lock()
	cur, ok := c.byID[id]
	if !ok {
		c.mu.Unlock()
		writeError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist.")
		return
	}
	next := maps.Clone(cur)
	maps.Copy(next, body)
	c.byID[id] = next
	c.mu.Unlock()
	if !c.entity {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	out := masked(next)
	out["@odata.context"] = c.context + "/$entity"
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, object{"error": object{"code": code, "message": message}})
}
