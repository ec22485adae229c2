-- files: Commons' image table; the MIME type is major/minor.  The caller adds ORDER BY
-- file_name, or skips it when the parsed table is already in img_name order (mysqldump
-- writes rows in primary-key order).  img_sha1 stays base 36 here: the caller converts it
-- to hex batch by batch (wikivis.dumps._base36; 160 bits do not fit DuckDB's integers).
-- Run by DuckDB over the parsed Parquet parts (view image).
-- params: wiki
SELECT $wiki AS wiki,
       img_name AS file_name,
       CAST(img_size AS BIGINT) AS size,
       CAST(img_width AS INTEGER) AS width,
       CAST(img_height AS INTEGER) AS height,
       img_media_type AS media_type,
       img_major_mime || '/' || img_minor_mime AS mime,
       img_sha1 AS sha1,
       img_timestamp AS "timestamp"
FROM image
