"""Training: pseudo-labels, GPU ground-truth position maps, augmentation, the training loop."""
