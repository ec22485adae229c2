-- article_images for the legacy schema (imagelinks.il_to holds the file name; before
-- patch-imagelinks-drop-il_to).  Same batch shape as article_images: the next :limit rows
-- of the legacy primary key (il_from, il_to), page LEFT JOINed, non-articles dropped by
-- the client.
-- The scan starts at after_page = 0, after_target = ''.
-- params: after_page, after_target, limit
SELECT k.il_from AS page_id,
       k.il_from_namespace AS from_namespace,
       k.il_to AS target_key,
       p.page_namespace AS page_namespace,
       p.page_title AS page_title,
       6 AS target_namespace,
       k.il_to AS file_name
FROM (
    SELECT il_from, il_from_namespace, il_to
    FROM imagelinks
    WHERE il_from > :after_page OR (il_from = :after_page AND il_to > :after_target)
    ORDER BY il_from, il_to
    LIMIT :limit
) k
LEFT JOIN page p ON p.page_id = k.il_from
ORDER BY k.il_from, k.il_to
