-- The column names of a table or view, from the result description of an empty read:
-- needs only SELECT (replica users may lack SHOW VIEW), and works on MariaDB and SQLite.
-- identifiers: table = imagelinks | categorylinks | linktarget | page | page_props | image
SELECT *
FROM {table}
LIMIT 0
