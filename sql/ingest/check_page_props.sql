-- Checks the lead-image page_props before anything is written: decode() fails on a value
-- that is not UTF-8 (the caller turns that into an InputError naming the file).
SELECT count(*) AS n, max(length(decode(pp_value))) AS longest
FROM page_props
WHERE pp_propname IN ('page_image', 'page_image_free')
