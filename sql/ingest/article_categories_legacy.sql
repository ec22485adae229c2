-- article_categories for the legacy schema (categorylinks.cl_to, before MediaWiki 1.45):
-- the category is cl_to, no linktarget; otherwise as article_categories.sql.
-- Run by DuckDB over the parsed Parquet parts (views page, categorylinks).
-- Only pages with lo <= page_id <= hi (the caller's bucket, as in article_images.sql).
-- params: wiki, lo, hi
SELECT $wiki AS wiki,
       CAST(cl.cl_from AS BIGINT) AS page_id,
       cl.cl_to AS category
FROM categorylinks cl
WHERE cl.cl_from BETWEEN $lo AND $hi
  AND cl.cl_from IN (SELECT page_id FROM page WHERE page_namespace = 0 AND page_id BETWEEN $lo AND $hi)
