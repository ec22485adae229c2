-- The tutorial's Quarry query: the files one article uses (imagelinks ⋈ linktarget ⋈ page),
-- with the PageImages lead flags.  The title is the DB key (underscores).
-- params: namespace, title, propname_image, propname_free
SELECT p.page_id AS page_id,
       lt.lt_title AS file_name,
       CASE WHEN EXISTS (SELECT 1 FROM page_props pp
                         WHERE pp.pp_page = p.page_id AND pp.pp_propname = :propname_image
                           AND pp.pp_value = lt.lt_title) THEN 1 ELSE 0 END AS is_lead,
       CASE WHEN EXISTS (SELECT 1 FROM page_props pp
                         WHERE pp.pp_page = p.page_id AND pp.pp_propname = :propname_free
                           AND pp.pp_value = lt.lt_title) THEN 1 ELSE 0 END AS is_lead_free
FROM page p
JOIN imagelinks il ON il.il_from = p.page_id
JOIN linktarget lt ON lt.lt_id = il.il_target_id AND lt.lt_namespace = 6
WHERE p.page_namespace = :namespace
  AND p.page_title = :title
ORDER BY lt.lt_title
