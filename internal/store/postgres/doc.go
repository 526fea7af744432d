// Package postgres is idgraph's PostgreSQL store, for deployments where
// several idgraph replicas share one database. It talks to the server
// through github.com/jackc/pgx/v5 and needs PostgreSQL 12 or later.
//
// Durability: every session runs with synchronous_commit=on, and Open
// refuses a server whose fsync setting is off, so a write acknowledged to a
// client has reached the server's disk. When the connection fails during a
// COMMIT, the store asks the server what became of the transaction
// (txid_status) instead of guessing.
//
// Concurrency: each write is one READ COMMITTED transaction. Update and
// Delete lock the target row (SELECT ... FOR UPDATE) before the caller's
// function sees it, and every read that function makes through its store.Tx
// takes a share lock (FOR SHARE), so a record it depends on cannot be
// changed or deleted under it by another replica before the write commits.
// Creates rely on the unique key and report a conflict, never a failure.
// A write that loses a deadlock or a serialization conflict runs again, up
// to three times, and then fails with a retryable error (503); so may the
// caller's function, which the store.Store contract allows. Reads and
// writes whose connection the server ended before COMMIT (a restart, a
// failover) also run again, on another connection.
//
// Queries: $filter and $orderby become one parameterised SELECT with a
// keyset cursor. Strings compare as SQLite's COLLATE NOCASE does: ASCII
// letters folded (lower() under COLLATE "C"), then bytes. Documents are
// stored as the exact text written and read as jsonb by the function
// idgraph_doc, which maps the escape \u0000 (which jsonb refuses) to U+FFFD.
//
// Schema: the migrations embedded in the binary are applied by Open, under
// a PostgreSQL advisory lock so that replicas starting together apply each
// exactly once, in the schema the connection's search_path selects. A
// database whose schema is newer than the binary is refused.
package postgres
