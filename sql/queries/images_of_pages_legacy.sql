-- images_of_pages for the legacy schema (imagelinks.il_to).
-- params: page_ids
-- expanding: page_ids
SELECT il.il_from AS page_id,
       p.page_namespace AS page_namespace,
       p.page_title AS page_title,
       il.il_to AS target_key,
       il.il_to AS file_name
FROM imagelinks il
JOIN page p ON p.page_id = il.il_from
WHERE il.il_from IN :page_ids
  AND p.page_namespace = 0
ORDER BY il.il_from, il.il_to
