"""Commons media: file lists (:mod:`.lists`), licence rules (:mod:`.licences`), the
content-addressed thumbnail store (:mod:`.store`) and the polite fetcher (:mod:`.fetch`);
:mod:`.stage` holds the Commons stage's steps (recorded as stages by
:mod:`wikivis.stages.commons`) and :func:`~wikivis.media.stage.commons_stage`, all of them in one call.

Import the submodules directly; this package module stays import-light.
"""
