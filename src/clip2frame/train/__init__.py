"""Training: the clip-tag trainer, the frame-supervised oracle, the feature cache and epoch plan, augmentation,
the training config and run identity, DDP."""
