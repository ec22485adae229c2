-- article_categories for the legacy schema (categorylinks.cl_to, dropped in MW 1.45):
-- the next :limit rows of the legacy primary key (cl_from, cl_to), page LEFT JOINed.
-- The scan starts at after_page = 0, after_target = ''.
-- params: after_page, after_target, limit
SELECT k.cl_from AS page_id,
       k.cl_to AS target_key,
       p.page_namespace AS page_namespace,
       14 AS target_namespace,
       k.cl_to AS category
FROM (
    SELECT cl_from, cl_to
    FROM categorylinks
    WHERE cl_from > :after_page OR (cl_from = :after_page AND cl_to > :after_target)
    ORDER BY cl_from, cl_to
    LIMIT :limit
) k
LEFT JOIN page p ON p.page_id = k.cl_from
ORDER BY k.cl_from, k.cl_to
