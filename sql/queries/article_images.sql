-- Files used by the articles of one wiki: imagelinks ⋈ linktarget (ns 6) ⋈ page (ns 0).
-- One batch = the next :limit imagelinks rows in primary-key order (il_from, il_target_id),
-- picked in a derived table so that both engines range-scan the key and stop at :limit
-- (written as a plain join, MariaDB drives from page and sorts the whole join per batch).
-- The expanded OR form (not a row-value comparison) lets the range optimiser use the key.
-- page and linktarget are LEFT JOINed so every scanned row comes back: a short batch means
-- the end.  The client keeps the rows from articles (il_from_namespace = 0, as the dump
-- path reads them, and page_namespace = 0) to files (target_namespace = 6).  Filtering on
-- il_from_namespace in SQL would make MariaDB pick the il_backlinks_namespace_target_id
-- index and sort every namespace-0 row for each batch.
-- The scan starts at after_page = 0, after_target = 0.
-- params: after_page, after_target, limit
SELECT k.il_from AS page_id,
       k.il_from_namespace AS from_namespace,
       k.il_target_id AS target_key,
       p.page_namespace AS page_namespace,
       p.page_title AS page_title,
       lt.lt_namespace AS target_namespace,
       lt.lt_title AS file_name
FROM (
    SELECT il_from, il_from_namespace, il_target_id
    FROM imagelinks
    WHERE il_from > :after_page OR (il_from = :after_page AND il_target_id > :after_target)
    ORDER BY il_from, il_target_id
    LIMIT :limit
) k
LEFT JOIN page p ON p.page_id = k.il_from
LEFT JOIN linktarget lt ON lt.lt_id = k.il_target_id
ORDER BY k.il_from, k.il_target_id
