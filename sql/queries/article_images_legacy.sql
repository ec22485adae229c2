-- article_images for the legacy schema (imagelinks.il_to holds the file name; before
-- patch-imagelinks-drop-il_to).  Keyset on the legacy primary key (il_from, il_to).
-- The scan starts at after_page = 0, after_target = ''.
-- params: after_page, after_target, limit
SELECT il.il_from AS page_id,
       p.page_namespace AS page_namespace,
       p.page_title AS page_title,
       il.il_to AS target_key,
       il.il_to AS file_name
FROM imagelinks il
JOIN page p ON p.page_id = il.il_from
WHERE p.page_namespace = 0
  AND (il.il_from > :after_page OR (il.il_from = :after_page AND il.il_to > :after_target))
ORDER BY il.il_from, il.il_to
LIMIT :limit
