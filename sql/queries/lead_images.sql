-- PageImages lead images of a list of pages: page_props 'page_image' (best image, any
-- licence) and 'page_image_free' (best free image); pp_value is the file name (DB key).
-- params: page_ids, propnames
-- expanding: page_ids, propnames
SELECT pp_page AS page_id,
       pp_propname AS propname,
       pp_value AS file_name
FROM page_props
WHERE pp_page IN :page_ids
  AND pp_propname IN :propnames
ORDER BY pp_page, pp_propname
