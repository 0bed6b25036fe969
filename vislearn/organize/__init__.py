"""Organizing a photo collection without labels: embeddings store, grouping, naming, duplicates, search."""
