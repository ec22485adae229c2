-- Files used by a given list of articles (the event refresh re-reads the pages that changed).
-- params: page_ids
-- expanding: page_ids
SELECT il.il_from AS page_id,
       p.page_namespace AS page_namespace,
       p.page_title AS page_title,
       il.il_target_id AS target_key,
       lt.lt_title AS file_name
FROM imagelinks il
JOIN page p ON p.page_id = il.il_from
JOIN linktarget lt ON lt.lt_id = il.il_target_id
WHERE il.il_from IN :page_ids
  AND p.page_namespace = 0
  AND lt.lt_namespace = 6
ORDER BY il.il_from, il.il_target_id
