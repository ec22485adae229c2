-- The Wiki Replicas' custom `linktarget` view as maintain-views.yaml defined it in 2024
-- (operations-puppet modules/profile/templates/wmcs/db/wikireplicas/maintain-views.yaml):
-- it shows only targets used by templatelinks or pagelinks, so targets used *only* by
-- imagelinks or categorylinks are hidden.  The replica loader applies it (toggle
-- hide_imagelinks_only_linktargets) to reproduce that replica; portable to MariaDB and SQLite.
ALTER TABLE linktarget RENAME TO linktarget_all;
CREATE VIEW linktarget AS
SELECT lt_id, lt_namespace, lt_title
FROM linktarget_all
WHERE EXISTS (SELECT 1 FROM templatelinks WHERE tl_target_id = lt_id)
   OR EXISTS (SELECT 1 FROM pagelinks WHERE pl_target_id = lt_id);
