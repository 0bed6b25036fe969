"""Explanations: Grad-CAM and Integrated Gradients heatmaps, first-layer filters, feature maps, overlays.

    heat_bhw = explain(model, images_bchw, method="gradcam")   # (B, H, W) in [0, 1]
    save_png(heatmap_overlay(display_image(images_bchw[0], pre), heat_bhw[0]), "cam.png")
"""
from .common import normalize_per_image
from .gradcam import BoxScore, ClassLogit, GradCAM, RegionMeanLogit, class_activation_map, default_layer, gradcam
from .hooks import Captured, capture
from .integrated_gradients import BASELINES, integrated_gradients, integrated_gradients_signed
from .layers import feature_map_grid, feature_maps, first_conv, first_layer_filters, most_active_channels
from .methods import EXPLAINERS, explain
from .overlay import display_image, heatmap_overlay, save_png

__all__ = [
    "BASELINES", "EXPLAINERS", "BoxScore", "Captured", "ClassLogit", "GradCAM", "RegionMeanLogit",
    "capture", "class_activation_map", "default_layer", "display_image",
    "explain", "feature_map_grid", "feature_maps", "first_conv", "first_layer_filters", "gradcam",
    "heatmap_overlay", "integrated_gradients", "integrated_gradients_signed", "most_active_channels",
    "normalize_per_image", "save_png",
]
