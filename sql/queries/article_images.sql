-- Files used by the articles of one wiki: imagelinks ⋈ linktarget (ns 6) ⋈ page (ns 0).
-- Keyset-paginated on the imagelinks primary key (il_from, il_target_id); the expanded
-- OR form (not a row-value comparison) lets MariaDB's range optimiser use the key.
-- The scan starts at after_page = 0, after_target = 0.
-- params: after_page, after_target, limit
SELECT il.il_from AS page_id,
       p.page_namespace AS page_namespace,
       p.page_title AS page_title,
       il.il_target_id AS target_key,
       lt.lt_title AS file_name
FROM imagelinks il
JOIN page p ON p.page_id = il.il_from
JOIN linktarget lt ON lt.lt_id = il.il_target_id
WHERE p.page_namespace = 0
  AND lt.lt_namespace = 6
  AND (il.il_from > :after_page OR (il.il_from = :after_page AND il.il_target_id > :after_target))
ORDER BY il.il_from, il.il_target_id
LIMIT :limit
