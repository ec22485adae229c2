"""Image recommendation: similar images, images for articles, Wikimedia filters, provenance.

Public entry points (import from the submodules; this package imports nothing heavy):

* :class:`wikivis.recommend.data.RecData` — the plain inputs;
* :class:`wikivis.recommend.search.VectorSearch` (protocol), ``ExactSearch``;
* :func:`wikivis.recommend.visrank.visrank_knn`, ``visrank_scores``;
* :class:`wikivis.recommend.filters.ImageFilter`, ``icon_threshold``;
* :func:`wikivis.recommend.curatornet.train_curatornet`, ``save_checkpoint``, ``load_checkpoint``;
* :class:`wikivis.recommend.service.RecommenderService` (``from_settings``, ``similar``, ``suggest``);
* :func:`wikivis.recommend.training.train_and_save` — train CuratorNet on a wiki's links.
"""
