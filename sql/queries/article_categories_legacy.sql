-- article_categories for the legacy schema (categorylinks.cl_to, dropped in MW 1.45).
-- Keyset on the legacy primary key (cl_from, cl_to).
-- The scan starts at after_page = 0, after_target = ''.
-- params: after_page, after_target, limit
SELECT cl.cl_from AS page_id,
       cl.cl_to AS target_key,
       cl.cl_to AS category
FROM categorylinks cl
JOIN page p ON p.page_id = cl.cl_from
WHERE p.page_namespace = 0
  AND (cl.cl_from > :after_page OR (cl.cl_from = :after_page AND cl.cl_to > :after_target))
ORDER BY cl.cl_from, cl.cl_to
LIMIT :limit
