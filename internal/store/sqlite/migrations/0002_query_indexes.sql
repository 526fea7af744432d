-- Pages of a collection are read in creation order or by display name:
-- both orders come from an index, so a page costs the same whatever the
-- collection's size. display_name is the document's displayName, compared
-- ignoring ASCII case as $filter and $orderby do.
ALTER TABLE objects ADD COLUMN display_name TEXT COLLATE NOCASE
	GENERATED ALWAYS AS (coalesce(json_extract(CAST(data AS TEXT), '$.displayName'), '')) VIRTUAL;
CREATE INDEX objects_by_seq ON objects (tenant_id, collection, seq);
CREATE INDEX objects_by_display_name ON objects (tenant_id, collection, display_name, seq);
