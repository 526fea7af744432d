-- idgraph_doc reads a stored document as jsonb, for $filter and $orderby.
--
-- jsonb cannot hold the character U+0000, which encoding/json writes as the
-- escape \u0000, so such an escape reads as U+FFFD instead (a NUL in a
-- literal of a query is mapped the same way). Escaped backslashes are
-- rewritten first, as the equivalent \u005c, so that every "\u0000" left
-- is an escape and never the text after an escaped backslash. Documents
-- without the sequence take the direct path.
CREATE FUNCTION idgraph_doc(data text) RETURNS jsonb
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT CASE
		WHEN strpos(data, E'\\u0000') = 0 THEN data::jsonb
		ELSE replace(replace(data, E'\\\\', E'\\u005c'), E'\\u0000', E'\\ufffd')::jsonb
	END
$$;

-- Pages of a collection are read in creation order or by display name:
-- both orders come from an index, so a page costs the same whatever the
-- collection's size. display_name is the document's displayName with ASCII
-- letters folded to lower case ("" when missing or null), compared bytewise:
-- the order $filter and $orderby use. Computing it also refuses, at write
-- time, a document that is not JSON, so that no query can fail on one.
ALTER TABLE objects ADD COLUMN display_name text COLLATE "C" NOT NULL
	GENERATED ALWAYS AS (coalesce(lower((idgraph_doc(data) ->> 'displayName') COLLATE "C"), '')) STORED;
CREATE INDEX objects_by_display_name ON objects (tenant_id, collection, display_name, seq);
