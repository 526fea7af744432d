package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/store"
)

// TestAbortedTransactionFailsWholeGroup guards a regression: when SQLite
// aborts the shared transaction (here: the database is full), a later write
// of the same group must not be committed on its own while being reported
// as failed. Every write's reported outcome must match what is on disk.
func TestAbortedTransactionFailsWholeGroup(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "full.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.wdb.ExecContext(ctx, "PRAGMA max_page_count=40"); err != nil {
		t.Fatal(err)
	}
	// Hold the writer so that the three creates below form one group.
	release := make(chan struct{})
	held := make(chan struct{})
	go s.write(ctx, func(context.Context, *wtx) error { close(held); <-release; return nil })
	<-held
	docs := map[string]string{
		"a":   `{"n":"small"}`,
		"big": `{"n":"` + strings.Repeat("x", 400<<10) + `"}`,
		"c":   `{"n":"small"}`,
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := map[string]error{}
	for i, id := range []string{"a", "big", "c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Create(ctx, store.Record{Tenant: "t", Collection: store.APIConnectors, ID: id, Data: []byte(docs[id])})
			mu.Lock()
			results[id] = err
			mu.Unlock()
		}()
		// Queue them in this order.
		for deadline := time.Now().Add(5 * time.Second); len(s.ops) < i+1 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	wg.Wait()
	if results["big"] == nil {
		t.Fatalf("the 400 KiB write into a 40-page database succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id, werr := range results {
		_, gerr := s.Get(ctx, "t", store.APIConnectors, id)
		present := gerr == nil
		if gerr != nil && graph.KindOf(gerr) != graph.KindNotFound {
			t.Fatalf("Get %s: %v", id, gerr)
		}
		if present != (werr == nil) {
			t.Errorf("write %q reported err=%v but present=%v after reopen", id, werr, present)
		}
	}
}

// TestPathWithURICharacters checks that a data path with characters that are
// special in SQLite URIs opens the file it names.
func TestPathWithURICharacters(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a#b.db", "a?b.db", "a%41.db", "sp ace.db"} {
		path := filepath.Join(dir, name)
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatalf("Open(%q): %v", name, err)
		}
		if _, err := s.Create(context.Background(), store.Record{Tenant: "t", Collection: store.Meta, ID: "x", Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("Open(%q) did not create that file: %v", name, err)
		}
	}
}

// The database holds sealed secrets and password hashes: only its owner may
// read it, and SQLite's WAL file follows the database's mode.
func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idgraph.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Create(context.Background(), store.Record{Tenant: "t", Collection: store.Meta, ID: "x", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}
