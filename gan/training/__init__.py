"""Training of the reference alias-free generator: data, losses, checkpoints and the loop."""
