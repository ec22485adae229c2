-- Files used by a given list of articles (the event refresh re-reads the pages that changed).
-- Same columns as article_images; the client applies the same article/file filter.
-- params: page_ids
-- expanding: page_ids
SELECT il.il_from AS page_id,
       il.il_from_namespace AS from_namespace,
       il.il_target_id AS target_key,
       p.page_namespace AS page_namespace,
       p.page_title AS page_title,
       lt.lt_namespace AS target_namespace,
       lt.lt_title AS file_name
FROM imagelinks il
JOIN page p ON p.page_id = il.il_from
JOIN linktarget lt ON lt.lt_id = il.il_target_id
WHERE il.il_from IN :page_ids
ORDER BY il.il_from, il.il_target_id
