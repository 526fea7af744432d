-- Every stored object: a JSON document keyed by tenant, collection and the
-- case-folded id (store.Key). seq orders a collection by creation and is
-- never reused, so a deleted and re-created object comes last.
--
-- The document is kept as the exact text written: jsonb would reorder its
-- members, drop duplicates and respace it, and the contract returns the
-- bytes as they were given. The keys compare bytewise (COLLATE "C"), like
-- SQLite's BINARY collation, whatever the database's default collation.
CREATE TABLE objects (
	seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id  text COLLATE "C" NOT NULL,
	collection text COLLATE "C" NOT NULL,
	id_key     text COLLATE "C" NOT NULL,
	id         text   NOT NULL,
	version    bigint NOT NULL CHECK (version >= 1),
	data       text   NOT NULL,
	CONSTRAINT objects_key UNIQUE (tenant_id, collection, id_key)
);
-- Lists and pages in creation order.
CREATE INDEX objects_by_seq ON objects (tenant_id, collection, seq);
