-- Which of these ids the `linktarget` table (or view) shows.
-- params: ids
-- expanding: ids
SELECT lt_id
FROM linktarget
WHERE lt_id IN :ids
