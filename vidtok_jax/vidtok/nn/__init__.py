"""The VidTok network: layers, residual blocks and the causal/non-causal autoencoder."""
