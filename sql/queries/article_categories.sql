-- Categories of the articles of one wiki: categorylinks ⋈ linktarget (ns 14) ⋈ page (ns 0).
-- One batch = the next :limit categorylinks rows in primary-key order (cl_from,
-- cl_target_id), picked in a derived table (see article_images for why); page and
-- linktarget LEFT JOINed, non-articles and non-category targets dropped by the client.
-- The scan starts at after_page = 0, after_target = 0.
-- params: after_page, after_target, limit
SELECT k.cl_from AS page_id,
       k.cl_target_id AS target_key,
       p.page_namespace AS page_namespace,
       lt.lt_namespace AS target_namespace,
       lt.lt_title AS category
FROM (
    SELECT cl_from, cl_target_id
    FROM categorylinks
    WHERE cl_from > :after_page OR (cl_from = :after_page AND cl_target_id > :after_target)
    ORDER BY cl_from, cl_target_id
    LIMIT :limit
) k
LEFT JOIN page p ON p.page_id = k.cl_from
LEFT JOIN linktarget lt ON lt.lt_id = k.cl_target_id
ORDER BY k.cl_from, k.cl_target_id
