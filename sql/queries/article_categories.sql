-- Categories of the articles of one wiki: categorylinks ⋈ linktarget (ns 14) ⋈ page (ns 0).
-- Keyset on the categorylinks primary key (cl_from, cl_target_id).
-- The scan starts at after_page = 0, after_target = 0.
-- params: after_page, after_target, limit
SELECT cl.cl_from AS page_id,
       cl.cl_target_id AS target_key,
       lt.lt_title AS category
FROM categorylinks cl
JOIN page p ON p.page_id = cl.cl_from
JOIN linktarget lt ON lt.lt_id = cl.cl_target_id
WHERE p.page_namespace = 0
  AND lt.lt_namespace = 14
  AND (cl.cl_from > :after_page OR (cl.cl_from = :after_page AND cl.cl_target_id > :after_target))
ORDER BY cl.cl_from, cl.cl_target_id
LIMIT :limit
