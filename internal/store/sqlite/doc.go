// Package sqlite is idgraph's embedded default store: one SQLite file through
// the pure-Go modernc.org/sqlite driver.
//
// Durability: the database runs in WAL mode with synchronous=FULL, checked at
// open, so a committed transaction survives a power loss. All writes go
// through one writer goroutine that groups the writes waiting at the same
// moment into a single transaction (group commit): each write runs inside its
// own savepoint, so one failing write does not undo the others, and every
// write of the group is acknowledged only after the shared COMMIT returns.
// Reads use a separate pool of connections and never wait for the writer.
package sqlite
