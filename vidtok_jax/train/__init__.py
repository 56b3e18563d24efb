"""Training: configs and presets, the engine shared by the model families, checkpoints, input and logging."""
