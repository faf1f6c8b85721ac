"""Deep learning: the CNN-ViT hybrid and a small model zoo, training, selection, batch scoring."""
