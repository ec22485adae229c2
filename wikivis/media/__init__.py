"""Commons media: file lists (:mod:`.lists`), licence rules (:mod:`.licences`), the
content-addressed thumbnail store (:mod:`.store`) and the polite fetcher (:mod:`.fetch`);
:func:`wikivis.media.stage.commons_stage` is the pipeline entry point.

Import the submodules directly; this package module stays import-light.
"""
