"""The model zoo: CNN, ViT and the CNN-into-ViT hybrid of the study, built from timm parts and
trained from scratch (no weights can be downloaded here; ``--init-weights`` loads local ones).
"""

from __future__ import annotations

from functools import partial

import timm
from timm.layers import HybridEmbed
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from sonorisk.deep.preprocess import Preprocess
from sonorisk.deep.registry import register_model


@register_model
def resnet34(preprocess: Preprocess) -> nn.Module:
    """ResNet34 with a single-logit head."""
    return timm.create_model("resnet34", pretrained=False, num_classes=1, in_chans=preprocess.in_chans)


@register_model
def vit_small(
    preprocess: Preprocess, patch_size: int = 8, embed_dim: int = 192, depth: int = 4, num_heads: int = 3
) -> nn.Module:
    """A plain small ViT on image patches (class token, learned position embeddings)."""
    return VisionTransformer(
        img_size=preprocess.input_size,
        patch_size=patch_size,
        in_chans=preprocess.in_chans,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        num_classes=1,
    )


@register_model
def resnet34_vit(
    preprocess: Preprocess, stride: int = 16, embed_dim: int = 192, depth: int = 4, num_heads: int = 3
) -> nn.Module:
    """ResNet34 feature maps as the tokens of a ViT encoder (class token, position embeddings).

    ``stride`` 16 taps ResNet34 after layer3 (256 channels), 32 after layer4 (512 channels); each
    spatial position of that map becomes one token, projected to ``embed_dim``.
    """
    if stride not in (16, 32):
        raise ValueError(f"stride must be 16 or 32, got {stride}")
    backbone = timm.create_model(
        "resnet34",
        pretrained=False,
        features_only=True,
        out_indices=(3 if stride == 16 else 4,),
        in_chans=preprocess.in_chans,
    )
    return VisionTransformer(
        img_size=preprocess.input_size,
        patch_size=1,
        in_chans=preprocess.in_chans,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        num_classes=1,
        embed_layer=partial(HybridEmbed, backbone=backbone),
    )
