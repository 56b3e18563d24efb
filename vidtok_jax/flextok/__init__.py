"""VideoFlexTok (arXiv 2604.12887) in JAX: flexible-length, coarse-to-fine tokens of VidTok latents.

`load_videoflextok(path)` reads an official checkpoint exactly; see `model.VideoFlexTok` for the API.
"""

from vidtok_jax.flextok.model import (VideoFlexTok, export_videoflextok, load_videoflextok,
                                      random_videoflextok)

__all__ = ["VideoFlexTok", "export_videoflextok", "load_videoflextok", "random_videoflextok"]
