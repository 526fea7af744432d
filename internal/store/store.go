package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/idgraph/idgraph/internal/graph"
)

// Collection names a kind of stored object.
type Collection string

// The collections idgraph stores.
const (
	Tenants           Collection = "tenant"           // tenant "": one record per tenant, id = tenant id
	SigningKeys       Collection = "signingKey"       // tenant "": the token signing keys
	Meta              Collection = "meta"             // tenant "": server-wide facts (the secret-key check)
	APIConnectors     Collection = "apiConnector"     // per tenant
	IdentityProviders Collection = "identityProvider" // per tenant
	Apps              Collection = "app"              // per tenant, id = client id
	Users             Collection = "user"             // per tenant, id = userPrincipalName
	UserFlows         Collection = "userFlow"         // per tenant, id = B2X_1_... or B2C_1_...
)

// Global is the tenant id of server-wide records.
const Global = ""

// Record is one stored object.
type Record struct {
	Tenant     string     // Global for server-wide records
	Collection Collection //
	ID         string     // as created; lookups match case-insensitively
	Version    int64      // 1 after create, +1 per update
	Data       []byte     // the JSON document
}

// Tx reads inside a write transaction: it sees the writes made before it in
// the same transaction.
type Tx interface {
	// Get returns the record, or an error of KindNotFound.
	Get(tenant string, c Collection, id string) (Record, error)
	// List returns the collection's records in creation order.
	List(tenant string, c Collection) ([]Record, error)
}

// Store is the contract every backend fulfils.
//
// Every method takes the tenant explicitly; a record of one tenant is never
// visible through another. Ids are compared with Key. A write method returns
// only after its change is durable (committed and synced), and a failed write
// changes nothing. Concurrent writes to one record are serialised: no update
// is lost.
type Store interface {
	// Get returns one record. It returns an error of KindNotFound if the tenant
	// has no such id in c.
	Get(ctx context.Context, tenant string, c Collection, id string) (Record, error)
	// List returns all records of c in the tenant, in creation order.
	List(ctx context.Context, tenant string, c Collection) ([]Record, error)
	// Query returns one page of the records of c in the tenant that match
	// q (see Query). A cursor that does not belong to q is an error of
	// KindInvalid.
	Query(ctx context.Context, tenant string, c Collection, q Query) (Page, error)
	// Create stores r with version 1 and returns it. It returns an error of
	// KindConflict if an id equal under Key already exists.
	Create(ctx context.Context, r Record) (Record, error)
	// CreateFunc is Create with the document computed inside the
	// transaction: fn reads what it needs (references that must exist) and
	// returns the document; if fn returns an error nothing is stored and
	// CreateFunc returns it. A conflict is reported before fn runs. fn may
	// run more than once and must have no side effects.
	CreateFunc(ctx context.Context, tenant string, c Collection, id string, fn func(tx Tx) ([]byte, error)) (Record, error)
	// Update loads the record, calls fn with it inside the transaction and
	// stores fn's document as the next version. If fn returns an error nothing
	// changes and Update returns that error. It returns an error of
	// KindNotFound if there is no such record. fn may run more than once and
	// must have no side effects.
	Update(ctx context.Context, tenant string, c Collection, id string, fn func(tx Tx, cur Record) ([]byte, error)) (Record, error)
	// Delete loads the record, calls check with it inside the transaction and
	// removes it if check returns nil (a nil check always allows). It returns
	// an error of KindNotFound if there is no such record. check may run more
	// than once and must have no side effects.
	Delete(ctx context.Context, tenant string, c Collection, id string, check func(tx Tx, cur Record) error) error
	// Close releases the store. Writes acknowledged before are durable.
	Close() error
}

// Key is the form in which ids are compared: Graph ids match
// case-insensitively (GET /identityProviders/Amazon-OAuth finds Amazon-OAUTH).
// Backends index this form, computed here so that every backend agrees.
func Key(id string) string { return strings.ToLower(id) }

// NotFound is the error every backend returns for a missing record. Its
// message is the same whether the id never existed or belongs to another
// tenant.
func NotFound(id string) error {
	return &graph.Error{Kind: graph.KindNotFound, Code: "Request_ResourceNotFound",
		Message: fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)}
}

// Conflict is the error every backend returns when Create meets an existing id.
func Conflict(id string) error {
	return &graph.Error{Kind: graph.KindConflict, Code: "Request_MultipleObjectsWithSameKeyValue",
		Message: fmt.Sprintf("Another object with the same value for property id already exists: '%s'.", id)}
}

// Versioned is a decoded record.
type Versioned[T any] struct {
	Value   T
	Version int64
}

// ETag returns the weak entity tag of this version.
func (v Versioned[T]) ETag() string { return ETag(v.Version) }

// ETag returns the weak entity tag of a record version.
func ETag(version int64) string { return fmt.Sprintf(`W/"%d"`, version) }

func decode[T any](r Record) (Versioned[T], error) {
	var v T
	if err := json.Unmarshal(r.Data, &v); err != nil {
		return Versioned[T]{}, fmt.Errorf("decode %s %q: %w", r.Collection, r.ID, err)
	}
	return Versioned[T]{Value: v, Version: r.Version}, nil
}

// Decode turns a record into a domain value.
func Decode[T any](r Record) (Versioned[T], error) { return decode[T](r) }

// GetAs returns one record decoded as T.
func GetAs[T any](ctx context.Context, s Store, tenant string, c Collection, id string) (Versioned[T], error) {
	r, err := s.Get(ctx, tenant, c, id)
	if err != nil {
		return Versioned[T]{}, err
	}
	return decode[T](r)
}

// ListAs returns a collection decoded as T, in creation order.
func ListAs[T any](ctx context.Context, s Store, tenant string, c Collection) ([]Versioned[T], error) {
	rs, err := s.List(ctx, tenant, c)
	if err != nil {
		return nil, err
	}
	out := make([]Versioned[T], 0, len(rs))
	for _, r := range rs {
		v, err := decode[T](r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// CreateAs stores v under id.
func CreateAs[T any](ctx context.Context, s Store, tenant string, c Collection, id string, v T) (Versioned[T], error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Versioned[T]{}, fmt.Errorf("encode %s: %w", c, err)
	}
	r, err := s.Create(ctx, Record{Tenant: tenant, Collection: c, ID: id, Data: data})
	if err != nil {
		return Versioned[T]{}, err
	}
	return Versioned[T]{Value: v, Version: r.Version}, nil
}

// UpdateAs is Update for values of type T: fn receives the current value and
// returns the next one.
func UpdateAs[T any](ctx context.Context, s Store, tenant string, c Collection, id string, fn func(tx Tx, cur Versioned[T]) (T, error)) (Versioned[T], error) {
	return updateAs(ctx, s, tenant, c, id, nil, fn)
}

// Read is a record as a caller read it, with its decoded value, for
// UpdateRead.
type Read[T any] struct {
	rec Record
	Versioned[T]
}

// GetRead is GetAs, keeping the record for UpdateRead.
func GetRead[T any](ctx context.Context, s Store, tenant string, c Collection, id string) (Read[T], error) {
	r, err := s.Get(ctx, tenant, c, id)
	if err != nil {
		return Read[T]{}, err
	}
	v, err := decode[T](r)
	return Read[T]{rec: r, Versioned: v}, err
}

// UpdateRead is UpdateAs for a record the caller has just read (with
// GetRead) to check the request against: while the record is still
// exactly the one read, fn receives the value read instead of a second
// decoding of the same bytes. That value then belongs to fn, which
// changes it: the caller must not use read's value (or what its pointers
// and slices reach) after the call.
func UpdateRead[T any](ctx context.Context, s Store, read Read[T], fn func(tx Tx, cur Versioned[T]) (T, error)) (Versioned[T], error) {
	r := read.rec
	return updateAs(ctx, s, r.Tenant, r.Collection, r.ID, &read, fn)
}

func updateAs[T any](ctx context.Context, s Store, tenant string, c Collection, id string, read *Read[T], fn func(tx Tx, cur Versioned[T]) (T, error)) (Versioned[T], error) {
	// fn may run more than once; the value returned is the one of the run
	// whose document was stored. The value read is handed out once at
	// most: fn changes what it receives.
	var runs Results[T]
	var handed atomic.Bool
	r, err := s.Update(ctx, tenant, c, id, func(tx Tx, cur Record) ([]byte, error) {
		var v Versioned[T]
		var err error
		if read != nil && cur.Version == read.rec.Version && bytes.Equal(cur.Data, read.rec.Data) && handed.CompareAndSwap(false, true) {
			v = read.Versioned
		} else if v, err = decode[T](cur); err != nil {
			return nil, err
		}
		next, err := fn(tx, v)
		if err != nil {
			return nil, err
		}
		return runs.Add(next)
	})
	if err != nil {
		return Versioned[T]{}, err
	}
	v, err := runs.Stored(r)
	return Versioned[T]{Value: v, Version: r.Version}, err
}

// Results remembers what each run of a write function produced, so that
// the caller can report the value whose document was stored (a function
// may run more than once, and not every run is the one committed).
type Results[T any] struct {
	mu   sync.Mutex
	runs []result[T]
}

type result[T any] struct {
	data []byte
	v    T
}

// Add encodes v and remembers it; it returns the document to store.
func (rs *Results[T]) Add(v T) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	rs.mu.Lock()
	rs.runs = append(rs.runs, result[T]{data, v})
	rs.mu.Unlock()
	return data, nil
}

// Stored returns the value of the run that produced the stored record.
func (rs *Results[T]) Stored(r Record) (T, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for i := len(rs.runs) - 1; i >= 0; i-- {
		if bytes.Equal(rs.runs[i].data, r.Data) {
			return rs.runs[i].v, nil
		}
	}
	v, err := decode[T](r)
	return v.Value, err
}
