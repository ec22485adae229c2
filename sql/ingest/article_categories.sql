-- article_categories: categorylinks -> linktarget (namespace 14: the category is lt_title),
-- for namespace-0 pages only (a semi join: one row per link).  Ordered by (page_id, category).
-- Run by DuckDB over the parsed Parquet parts (views page, categorylinks, linktarget).
-- params: wiki
SELECT $wiki AS wiki,
       CAST(cl.cl_from AS BIGINT) AS page_id,
       lt.lt_title AS category
FROM categorylinks cl
JOIN linktarget lt ON lt.lt_id = cl.cl_target_id
WHERE lt.lt_namespace = 14
  AND cl.cl_from IN (SELECT page_id FROM page WHERE page_namespace = 0)
ORDER BY page_id, category
