-- Articles (namespace 0) of one wiki, redirects included, keyset-paginated on page_id.
-- after_page is the last page_id of the previous batch (0 to start).
-- params: after_page, limit
SELECT page_id, page_namespace, page_title, page_is_redirect
FROM page
WHERE page_namespace = 0
  AND page_id > :after_page
ORDER BY page_id
LIMIT :limit
