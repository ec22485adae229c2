-- pages: every page in namespace 0 (redirects included, flagged).  The caller adds ORDER BY
-- page_id, or skips it when the parsed table is already in page_id order (mysqldump writes
-- rows in primary-key order).
-- Run by DuckDB over the parsed Parquet parts of the dump (view page).
-- Only pages with lo <= page_id <= hi (the caller's bucket).
-- params: wiki, lo, hi
SELECT $wiki AS wiki,
       CAST(page_id AS BIGINT) AS page_id,
       CAST(page_namespace AS INTEGER) AS page_namespace,
       page_title,
       page_is_redirect <> 0 AS is_redirect
FROM page
WHERE page_namespace = 0 AND page_id BETWEEN $lo AND $hi
