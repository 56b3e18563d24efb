"""vidtok_jax: the VidTok video tokenizers in JAX/Flax.

    import vidtok_jax as vt
    tok = vt.load_tokenizer(config="vidtok_kl_causal_488_4chn", checkpoint="model.ckpt")
    z = tok.encode(video)        # video: float32 [B, T, H, W, 3] in [-1, 1]
    y = tok.decode(z)
    flex = vt.load_videoflextok("videoflextok.safetensors")   # VideoFlexTok: coarse-to-fine tokens
"""

from vidtok_jax.data.video_files import read_video, write_video
from vidtok_jax.errors import CheckpointError, ConfigError, InputError, VidTokError
from vidtok_jax.flextok import VideoFlexTok, export_videoflextok, load_videoflextok, random_videoflextok
from vidtok_jax.runtime.compilation_cache import enable_compilation_cache
from vidtok_jax.runtime.cpu_memory import use_memory_optimized_cpu_scheduler
from vidtok_jax.vidtok.config import ModelConfig, bundled_config_names, load_model_config
from vidtok_jax.vidtok.tokenizer import Tokenizer, count_params, export_safetensors, load_tokenizer

__all__ = [
    "CheckpointError", "ConfigError", "InputError", "ModelConfig", "Tokenizer", "VidTokError", "VideoFlexTok",
    "bundled_config_names", "count_params", "enable_compilation_cache", "export_safetensors", "export_videoflextok",
    "load_model_config", "load_tokenizer", "load_videoflextok", "random_videoflextok", "read_video",
    "use_memory_optimized_cpu_scheduler", "write_video",
]
__version__ = "0.1.0"
