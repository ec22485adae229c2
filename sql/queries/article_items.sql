-- Wikidata items of the articles of one wiki: page_props 'wikibase_item' of non-redirect
-- namespace-0 pages, keyset-paginated on pp_page (page_props' primary key starts with it).
-- The client keeps values shaped like a Q-id, as the dump path does.
-- after_page is the last page_id of the previous batch (0 to start).
-- params: propname, after_page, limit
SELECT pp.pp_page AS page_id,
       pp.pp_value AS item
FROM page_props pp
JOIN page p ON p.page_id = pp.pp_page
WHERE pp.pp_propname = :propname
  AND pp.pp_page > :after_page
  AND p.page_namespace = 0
  AND p.page_is_redirect = 0
ORDER BY pp.pp_page
LIMIT :limit
