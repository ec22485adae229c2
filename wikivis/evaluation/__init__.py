"""Offline evaluation: standard metrics, a held-out split of article→image links, baselines.

Public entry points: :func:`wikivis.evaluation.run.evaluate` (settings → metrics per
model), :func:`wikivis.evaluation.run.evaluate_data` (the same on in-memory data) and the
metric functions in :mod:`wikivis.evaluation.metrics`.
"""
