-- article_categories: categorylinks -> linktarget (namespace 14: the category is lt_title),
-- for namespace-0 pages only (a semi join: one row per link).
-- The caller adds ORDER BY page_id, category (the dataset's sort key).
-- Run by DuckDB over the parsed Parquet parts (views page, categorylinks, linktarget).
-- Only pages with lo <= page_id <= hi (the caller's bucket, as in article_images.sql).
-- params: wiki, lo, hi
SELECT $wiki AS wiki,
       CAST(cl.cl_from AS BIGINT) AS page_id,
       lt.lt_title AS category
FROM categorylinks cl
JOIN linktarget lt ON lt.lt_id = cl.cl_target_id
WHERE cl.cl_from BETWEEN $lo AND $hi AND lt.lt_namespace = 14
  AND cl.cl_from IN (SELECT page_id FROM page WHERE page_namespace = 0 AND page_id BETWEEN $lo AND $hi)
