"""Captions and alt text of article images (wikitext extraction), file captions, coverage."""
