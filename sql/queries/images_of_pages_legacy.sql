-- images_of_pages for the legacy schema (imagelinks.il_to).
-- params: page_ids
-- expanding: page_ids
SELECT il.il_from AS page_id,
       il.il_from_namespace AS from_namespace,
       il.il_to AS target_key,
       p.page_namespace AS page_namespace,
       p.page_title AS page_title,
       6 AS target_namespace,
       il.il_to AS file_name
FROM imagelinks il
JOIN page p ON p.page_id = il.il_from
WHERE il.il_from IN :page_ids
ORDER BY il.il_from, il.il_to
