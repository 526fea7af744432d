-- Every stored object: a JSON document keyed by tenant, collection and the
-- case-folded id. seq orders a collection by creation.
CREATE TABLE objects (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant_id  TEXT    NOT NULL,
	collection TEXT    NOT NULL,
	id_key     TEXT    NOT NULL,
	id         TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	data       BLOB    NOT NULL,
	UNIQUE (tenant_id, collection, id_key)
);
