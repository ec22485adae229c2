-- The first link-target ids of a link table, in primary-key order (cheap on any size):
-- the probe that tells whether the replica's `linktarget` view hides their rows.
-- params: limit
-- identifiers: table = imagelinks | categorylinks; column = il_target_id | cl_target_id; from_column = il_from | cl_from
SELECT {column} AS target_id
FROM {table}
ORDER BY {from_column}, {column}
LIMIT :limit
