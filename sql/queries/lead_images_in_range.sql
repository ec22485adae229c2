-- PageImages lead images of every page with first_page <= pp_page <= last_page: one range
-- read on the pp_propname_page index per batch of article_images (a batch covers a
-- contiguous range of il_from), instead of an IN list of a thousand page ids.
-- params: propnames, first_page, last_page
-- expanding: propnames
SELECT pp_page AS page_id,
       pp_value AS file_name
FROM page_props
WHERE pp_propname IN :propnames
  AND pp_page >= :first_page
  AND pp_page <= :last_page
