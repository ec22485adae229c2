-- File rows for a list of file names (the names an article wiki uses).
-- params: names
-- expanding: names
SELECT img_name, img_size, img_width, img_height, img_media_type,
       img_major_mime, img_minor_mime, img_sha1, img_timestamp
FROM image
WHERE img_name IN :names
ORDER BY img_name
