-- File rows of a file wiki's `image` table (commonswiki: one section, so no join with the
-- article wiki is possible; the client joins in application code).  img_sha1 is base-36.
-- Keyset on the primary key img_name (binary order).
-- The scan starts at after_name = ''.
-- params: after_name, limit
SELECT img_name, img_size, img_width, img_height, img_media_type,
       img_major_mime, img_minor_mime, img_sha1, img_timestamp
FROM image
WHERE img_name > :after_name
ORDER BY img_name
LIMIT :limit
