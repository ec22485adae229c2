-- article_categories for the legacy schema (categorylinks.cl_to, before MediaWiki 1.45):
-- the category is cl_to, no linktarget; otherwise as article_categories.sql.
-- Run by DuckDB over the parsed Parquet parts (views page, categorylinks).
-- params: wiki
SELECT $wiki AS wiki,
       CAST(cl.cl_from AS BIGINT) AS page_id,
       cl.cl_to AS category
FROM categorylinks cl
WHERE cl.cl_from IN (SELECT page_id FROM page WHERE page_namespace = 0)
ORDER BY page_id, category
