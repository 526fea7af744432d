// Package store defines what idgraph needs from a database and what every
// backend must guarantee.
//
// A backend stores Records: JSON documents keyed by (tenant, collection, id),
// where ids match case-insensitively, each with a version that starts at 1 and
// grows by one per update. The tenant is part of every key and of every query;
// nothing can be read or written without naming it. Writes are atomic
// read-modify-writes whose callbacks run inside the backend's transaction, so
// domain rules (validation, If-Match, references) live in the callers and
// cannot drift between backends. A write that returns nil is durable.
//
// The typed helpers (GetAs, ListAs, CreateAs, UpdateAs) turn Records into
// domain values. storetest holds the conformance suite every backend runs.
package store
