"""A deterministic sample wiki: articles, Commons files (real images) and a few days of history.

``generate(seed=0, n_articles=300, n_files=500, n_days=5)`` builds:

* **samplewiki** (the article wiki): ~``n_articles`` articles in namespace 0 across ten
  topics (birds, mountains, architecture, ships, flowers, insects, paintings, bridges, cars,
  maps), each using 0–6 files (≈15 % unillustrated), plus redirects, a few User/Wikipedia
  pages that use images (``il_from_namespace`` 2 and 4), category pages, and rare red links
  to files that do not exist.  Titles include quotes, a backslash and non-ASCII letters so
  SQL escaping and UTF-8 handling get exercised.
* **commonswiki**: ``n_files`` files rendered as real JPEG/PNG/SVG images
  (:mod:`wikivis.sample.images`; same topic ⇒ similar look), plus shared icons used on many
  pages (``Flag_of_<X>.svg``, ``Map_icon.png``, ``Noimage.png``, ``Commons-logo.svg``, …) so
  over-use and name filters have something to catch.  ``file_info[name]`` holds the
  licence (mostly CC BY-SA/CC0/PD, ≈3 % non-free "Fair use"), artist, description, depicts
  (P180 Q-ids, on ≈70 % of files) and Commons categories, for the mirror's API server.
* **history** over ``n_days`` days: edits adding/removing images, lead-image changes,
  category edits, new articles, page deletions, undeletions, moves (mostly leaving a
  redirect), Commons uploads, overwrites (new SHA-1) and file deletions (usages stay as red
  links; PageImages moves the lead, announced by page-properties-change).

Public surface (:class:`SampleWiki`):

* ``state(day)`` → :class:`WikiState`: the full MediaWiki tables after day ``day`` (day 0
  is the initial state), in the *current* schema (``imagelinks.il_target_id`` and
  ``categorylinks.cl_target_id`` → ``linktarget``; no ``il_to``/``cl_to``).  ``tables`` is
  ``page, linktarget, imagelinks, page_props, categorylinks`` of samplewiki plus ``image``
  of commonswiki; ``tables_for("commonswiki")`` also has Commons' file pages, link targets
  and file categories.  Rows are dicts in primary-key order, text as ``str``.
* ``dates[day]``: the dump date (``YYYYMMDD``, day 0 = 20261101).  A dump dated D holds
  the state at D 00:00 UTC; the events of day N have ``meta.dt`` in
  ``[dates[N-1], dates[N])``.
* ``events``: EventStreams-shaped dicts (see :mod:`wikivis.sample.events`) that turn
  ``state(0)`` into ``state(n_days)``: revision-create, page-create,
  page-properties-change, page-delete, page-undelete, page-move and recentchange (edits and
  logs; uploads are ``type=log, log_type=upload, log_action=upload|overwrite`` on
  commonswiki with ``log_params.img_sha1``), plus canaries (``meta.domain == "canary"``)
  and another wiki's edits (``otherwiki``) as noise.  Contract: every page or file whose
  rows differ between two days is named by an event in between, so "apply events, refresh
  the touched pages from the newer state" reproduces it (:mod:`wikivis.sample.replay`).
* ``changes``: the ground-truth page-level change log; ``topics`` (page_id/file name →
  topic); ``file_bytes(name, day=None)``, ``file_image`` (Pillow, SVG rasterised),
  ``file_sha1``, ``file_versions``, ``mime``; ``digest()`` for determinism checks.

Determinism: the same parameters give byte-identical tables, events and image bytes in any
process (all randomness is seeded from ``(seed, purpose)`` via SHA-256).  Rendering ~550
images takes a few seconds; bytes are cached on disk (``cache_dir``, default
``$WIKIVIS_SAMPLE_CACHE`` or ``var/cache/sample``) and results are memoised per process.
"""

from wikivis.sample.generator import COMMONS_WIKI, WIKI, Change, SampleWiki, WikiState, generate

__all__ = ["COMMONS_WIKI", "WIKI", "Change", "SampleWiki", "WikiState", "generate"]
