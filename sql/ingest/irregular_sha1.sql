-- The img_sha1 values that are not 31 base-36 digits (see check_image.sql).
SELECT img_name, img_sha1
FROM image
WHERE img_sha1 IS NULL OR NOT regexp_full_match(img_sha1, '[0-9a-zA-Z]{31}')
