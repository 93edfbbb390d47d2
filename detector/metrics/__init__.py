"""Prometheus metrics: the catalogue of names and the exposition that fills it at scrape time."""
