-- article_images: imagelinks from namespace-0 pages -> linktarget (namespace 6: the file
-- name is lt_title) -> page (namespace 0); is_lead when (page, file) is the page's PageImages
-- page_image or page_image_free property.
-- The caller adds ORDER BY page_id, file_name (the dataset's sort key).
-- Run by DuckDB over the parsed Parquet parts (views page, imagelinks, linktarget, page_props).
-- Only pages with lo <= page_id <= hi (the caller's bucket: buckets in page_id order give
-- the whole dataset in order, each sorted and joined within the memory limit).
-- params: wiki, lo, hi
WITH links AS (
    SELECT CAST(il.il_from AS BIGINT) AS page_id, lt.lt_title AS file_name
    FROM imagelinks il
    JOIN linktarget lt ON lt.lt_id = il.il_target_id
    WHERE il.il_from BETWEEN $lo AND $hi AND il.il_from_namespace = 0 AND lt.lt_namespace = 6
),
leads AS (
    SELECT DISTINCT CAST(pp_page AS BIGINT) AS page_id, decode(pp_value) AS file_name
    FROM page_props
    WHERE pp_page BETWEEN $lo AND $hi AND pp_propname IN ('page_image', 'page_image_free')
)
SELECT $wiki AS wiki,
       l.page_id,
       CAST(p.page_namespace AS INTEGER) AS page_namespace,
       p.page_title,
       l.file_name,
       leads.page_id IS NOT NULL AS is_lead
FROM links l
JOIN page p ON p.page_id = l.page_id AND p.page_namespace = 0 AND p.page_id BETWEEN $lo AND $hi
LEFT JOIN leads ON leads.page_id = l.page_id AND leads.file_name = l.file_name
