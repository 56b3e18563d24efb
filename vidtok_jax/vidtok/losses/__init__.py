"""Training losses of VidTok: reconstruction (L1 + LPIPS with a learned log-variance),
PatchGAN discriminators and the GAN terms (hinge, non-saturating, adaptive weight, LeCAM).

Submodules: ``reconstruction``, ``discriminator``, ``gan``. They hold pure functions and Flax
modules only; the training step that combines them lives in ``vidtok_jax.vidtok.step``.
"""
