-- pages: every page in namespace 0 (redirects included, flagged), in page_id order.
-- Run by DuckDB over the parsed Parquet parts of the dump (view page).
-- params: wiki
SELECT $wiki AS wiki,
       CAST(page_id AS BIGINT) AS page_id,
       CAST(page_namespace AS INTEGER) AS page_namespace,
       page_title,
       page_is_redirect <> 0 AS is_redirect
FROM page
WHERE page_namespace = 0
ORDER BY page_id
