-- Checks Commons' image table before anything is written: sizes that do not fit int64,
-- and the number of img_sha1 values that are not 31 base-36 digits (those are converted
-- one by one by the exact twin, which raises on a value that is not base 36).
SELECT count(*) FILTER (WHERE img_size > 9223372036854775807) AS size_out_of_range,
       count(*) FILTER (WHERE img_sha1 IS NULL OR NOT regexp_full_match(img_sha1, '[0-9a-zA-Z]{31}')) AS irregular_sha1
FROM image
