-- article_items: the wikibase_item page prop of each article (namespace 0, not a redirect).
-- Values that are not a Q-id (vandalism, a broken import) are dropped, as in the replica path;
-- the gate checks the pattern again on what is written.
-- Run by DuckDB over the parsed Parquet parts of the dump (views page, page_props).
-- Only pages with lo <= page_id <= hi (the caller's bucket).
-- params: wiki, lo, hi
SELECT $wiki AS wiki,
       CAST(pp.pp_page AS BIGINT) AS page_id,
       decode(pp.pp_value) AS item
FROM page_props AS pp
JOIN page AS p ON p.page_id = pp.pp_page
WHERE pp.pp_propname = 'wikibase_item'
  AND p.page_namespace = 0 AND p.page_is_redirect = 0
  AND pp.pp_page BETWEEN $lo AND $hi
  AND regexp_full_match(decode(pp.pp_value), 'Q[1-9][0-9]*')
