"""Training the per-pair autoencoder: networks, loss, augmentation, input feeder, loop, checkpoints, tracking."""
