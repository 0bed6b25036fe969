"""Backbones by name, heads, weights loading (local file, package, hub) and preprocessing."""
from .backbones import BACKBONES, DEFAULT_MODEL, Preprocessing, create_model, list_models, preprocessing_for

__all__ = ["BACKBONES", "DEFAULT_MODEL", "Preprocessing", "create_model", "list_models", "preprocessing_for"]
