"""Wikimedia's published research files (WIT, the caption competition) read from disk.

:mod:`~wikivis.research.files` parses the published formats; :mod:`~wikivis.research.embeddings`
puts the ResNet-50 vectors into the embedding store; :mod:`~wikivis.research.wit` maps WIT rows
onto the lake's datasets and back.
"""
