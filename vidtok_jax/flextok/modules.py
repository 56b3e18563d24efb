"""VideoFlexTok's networks as plain Flax modules, channels-last, one sample per batch row.

- `FlexEncoder`: VidTok latents `[B, T, H, W, C]` -> patches + per-frame learned registers,
  interleaved frame by frame, a pre-norm transformer under the config's attention mask, and a
  linear head on the registers: `[B, T, R, code_dim]` values for FSQ.
- `FlexDecoder`: the rectified-flow velocity of noisy latents given register codes. Registers
  >= keep[b] become the learned mask token (nested dropout, the same program for every k),
  registers of the first `prefix[b]` frames become the prefix mask token, and `null[b]` replaces
  every register by the learned null condition (the unconditional pass of guidance). The trunk is
  adaLN-zero modulated by the timestep embedding, one modulation for patches and one for registers.

With the config's `linear_code` (this port's extension, see `config.LINEAR_CODE_KEY`) the encoder
adds a linear map of each whole latent frame to its register values, and the decoder predicts the
clean latents as a linear read-out of the kept codes (dropped, prefix and null registers read as
zero) plus its head's output, returning the velocity of that prediction, `(noisy - clean) / t`.

Parameter paths spell the official state-dict keys (`module_dict.<name>....`), so a released
checkpoint maps onto them one to one. Norms (LayerNorm without affine, eps 1e-5) run in float32;
the attention scale is the official 8 / head_dim.
"""

from __future__ import annotations

import math

import einops
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.errors import InputError
from vidtok_jax.flextok.config import LINEAR_CODE_KEY, DecoderConfig, EncoderConfig, PosembConfig, TrunkConfig
from vidtok_jax.flextok.masks import attention_mask

LN_EPS = 1e-5
CODE_NORM_EPS = 1e-6
MIN_FLOW_TIME = 0.05  # the velocity of a clean-latent prediction divides by t, at least this
TIME_MAX_PERIOD = 256.0
xavier = nn.initializers.xavier_uniform()
small_normal = nn.initializers.truncated_normal(0.02)


def official(name: str, *parts: str) -> str:
    """A submodule or parameter name that spells the official key `module_dict.<name>.<parts>`."""
    return ".".join(("module_dict", name) + parts)


def layer_norm(x: jax.Array) -> jax.Array:
    """LayerNorm over the last axis without affine parameters, computed in float32."""
    x32 = x.astype(jnp.float32)
    mean = jnp.mean(x32, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x32 - mean), axis=-1, keepdims=True)
    return ((x32 - mean) * jax.lax.rsqrt(var + LN_EPS)).astype(x.dtype)


def modulate(x: jax.Array, shift: jax.Array, scale: jax.Array) -> jax.Array:
    return x * (1.0 + scale) + shift


PATCHES = "b (t pt) (h ph) (w pw) c -> b t h w (pt ph pw c)"


def patchify(x: jax.Array, sizes: tuple[int, int, int]) -> jax.Array:
    """`[B, T, H, W, C]` -> `[B, T/pt, H/ph, W/pw, pt·ph·pw·C]`, the patch vector ordered (pt, ph, pw, c)."""
    pt, ph, pw = sizes
    return einops.rearrange(x, PATCHES, pt=pt, ph=ph, pw=pw)


def unpatchify(x: jax.Array, sizes: tuple[int, int, int], channels: int) -> jax.Array:
    """Inverse of `patchify`."""
    pt, ph, pw = sizes
    source, target = PATCHES.split(" -> ")
    return einops.rearrange(x, f"{target} -> {source}", pt=pt, ph=ph, pw=pw, c=channels)


def sincos_table(sizes: tuple[int, ...], dim: int) -> np.ndarray:
    """The official 2-D sin-cos posemb `[1, D, h, w]` (MoCo-v3 layout)."""
    h, w = sizes
    grid_w, grid_h = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32), indexing="ij")
    omega = 1.0 / (10000.0 ** (np.arange(dim // 4, dtype=np.float32) / (dim // 4)))
    out_w, out_h = np.outer(grid_w.reshape(-1), omega), np.outer(grid_h.reshape(-1), omega)
    emb = np.concatenate([np.sin(out_w), np.cos(out_w), np.sin(out_h), np.cos(out_h)], axis=1)
    return emb.reshape(h, w, dim).transpose(2, 0, 1)[None].astype(np.float32)


class PositionalEmbedding(nn.Module):
    """Adds the official posemb of `config` to `x` `[B, *grid, D]`, cropped to the grid from the top-left."""

    config: PosembConfig
    dim: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        cfg, grid = self.config, x.shape[1:-1]
        if cfg.kind == "sincos":
            table = self.param("posembs", lambda *_: jnp.asarray(sincos_table(cfg.max_sizes, self.dim)))
            pe = table[0]
        else:
            axes = self.param("posembs", small_normal, (len(cfg.max_sizes), 1, self.dim, cfg.max_sizes[0]))
            tables = [axes[i, 0] for i in range(len(cfg.max_sizes))]  # each [D, max]
            combine = jnp.multiply if cfg.kind == "learnable_prod" else jnp.add
            if len(tables) == 1:
                pe = tables[0]
            elif len(tables) == 2:
                pe = combine(tables[0][:, :, None], tables[1][:, None, :])
            else:
                pe = combine(combine(tables[1][:, :, None], tables[2][:, None, :])[:, None], tables[0][:, :, None, None])
        pe = pe[(slice(None),) + tuple(slice(0, n) for n in grid)]
        return x + jnp.moveaxis(pe, 0, -1).astype(x.dtype)


class Attention(nn.Module):
    """Multi-head self-attention without biases by default, QK-norm, scale 8 / head_dim."""

    config: TrunkConfig
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x: jax.Array, mask: np.ndarray) -> jax.Array:
        cfg = self.config
        dense = lambda name, bias: nn.Dense(cfg.dim, use_bias=bias, dtype=self.dtype, kernel_init=xavier, name=name)  # noqa: E731
        b, n, _ = x.shape
        heads = lambda y: y.reshape(b, n, cfg.num_heads, cfg.head_dim)  # noqa: E731
        q, k, v = (heads(dense(name, cfg.qkv_bias)(x)) for name in ("wq", "wk", "wv"))
        if cfg.qk_norm:
            q, k = layer_norm(q), layer_norm(k)
        out = jax.nn.dot_product_attention(q, k, v, mask=jnp.asarray(mask)[None, None], scale=8.0 / cfg.head_dim)
        return dense("proj", cfg.proj_bias)(out.reshape(b, n, cfg.dim))


class Mlp(nn.Module):
    """SwiGLU (`fc2(silu(fc1 x) · fc3 x)`) or a plain SiLU MLP."""

    config: TrunkConfig
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        cfg = self.config
        dense = lambda name, features: nn.Dense(features, use_bias=cfg.mlp_bias, dtype=self.dtype,  # noqa: E731
                                                kernel_init=xavier, name=name)
        hidden = nn.silu(dense("fc1", cfg.mlp_hidden)(x))
        if cfg.gated_mlp:
            hidden = hidden * dense("fc3", cfg.mlp_hidden)(x)
        return dense("fc2", cfg.dim)(hidden)


class Block(nn.Module):
    """Pre-norm transformer block; with `modulation` (`[B, N, 6D]`) the adaLN-zero variant."""

    config: TrunkConfig
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x: jax.Array, mask: np.ndarray, modulation: jax.Array | None = None) -> jax.Array:
        attn, mlp = Attention(self.config, self.dtype, name="attn"), Mlp(self.config, self.dtype, name="mlp")
        if modulation is None:
            x = x + attn(layer_norm(x), mask)
            return x + mlp(layer_norm(x))
        gate_msa, gate_mlp, shift_msa, scale_msa, shift_mlp, scale_mlp = jnp.split(modulation, 6, axis=-1)
        x = x + gate_msa * attn(modulate(layer_norm(x), shift_msa, scale_msa), mask)
        return x + gate_mlp * mlp(modulate(layer_norm(x), shift_mlp, scale_mlp))


class Trunk(nn.Module):
    """`depth` blocks. For adaLN, `segments` `[N]` says which packed sub-sequence each token is in
    (0 = patches, 1 = registers); each block maps `silu(temb)` to one modulation per sub-sequence."""

    config: TrunkConfig
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x: jax.Array, mask: np.ndarray, temb: jax.Array | None = None,
                 segments: np.ndarray | None = None) -> jax.Array:
        cfg = self.config
        for i in range(cfg.depth):
            modulation = None
            if cfg.adaln_expansion:
                per_segment = nn.Dense(cfg.adaln_expansion * 6 * cfg.dim, dtype=self.dtype, kernel_init=nn.initializers.zeros,
                                       name=f"blocks.{i}.adaLN_modulation.1")(nn.silu(temb))
                per_segment = per_segment.reshape(temb.shape[0], cfg.adaln_expansion, 6 * cfg.dim)
                modulation = per_segment[:, segments]
            x = Block(cfg, self.dtype, name=f"blocks.{i}")(x, mask, modulation)
        return x


def interleave(patches: jax.Array, registers: jax.Array) -> jax.Array:
    """`[B, T, P, D]` and `[B, T, R, D]` -> `[B, T·(P+R), D]`: each frame's patches, then its registers."""
    b, t = patches.shape[:2]
    return jnp.concatenate([patches, registers], axis=2).reshape(b, -1, patches.shape[-1])


def timestep_frequencies(size: int, max_timestep: float) -> np.ndarray:
    half = size // 2
    return ((1000.0 / max_timestep)
            * np.exp(-math.log(TIME_MAX_PERIOD) * np.arange(half, dtype=np.float32) / half)).astype(np.float32)


def check_frame_size(latents: jax.Array, size: tuple[int, int]) -> jax.Array:
    """``latents`` ``[B, T, h, w, C]``, refused unless ``(h, w)`` is the linear code's latent frame size."""
    if tuple(latents.shape[2:4]) != tuple(size):
        raise InputError(f"this model's linear code reads latent frames of {size[0]}x{size[1]}, got "
                         f"{latents.shape[2]}x{latents.shape[3]}: resize the video to the model's clip size")
    return latents


class FlexEncoder(nn.Module):
    """VidTok latents `[B, T, H, W, C]` -> register values `[B, T, R, code_dim]` (before FSQ)."""

    config: EncoderConfig
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, latents: jax.Array) -> jax.Array:
        cfg, dim = self.config, self.config.trunk.dim
        patches = patchify(latents.astype(self.dtype), cfg.patch.patch_sizes)
        patches = nn.Dense(cfg.patch.dim, dtype=self.dtype, kernel_init=xavier,
                           name=official(cfg.patch.name, "patch_proj"))(patches)
        patches = PositionalEmbedding(cfg.posemb, dim, name=official(cfg.posemb.name))(patches)
        b, t, h, w, _ = patches.shape
        table = self.param(official(cfg.registers_name, "registers"), small_normal, (cfg.t_max, cfg.max_registers, dim))
        registers = jnp.broadcast_to(table[:t, :cfg.num_registers].astype(patches.dtype), (b, t, cfg.num_registers, dim))
        mask = attention_mask(cfg.trunk.mask_mode, t, h * w, cfg.num_registers)
        seq = Trunk(cfg.trunk, self.dtype, name=official(cfg.trunk.name))(
            interleave(patches.reshape(b, t, h * w, dim), registers), mask)
        registers = seq.reshape(b, t, h * w + cfg.num_registers, dim)[:, :, h * w:]
        init = xavier if cfg.head_init == "xavier" else nn.initializers.zeros
        head = nn.Dense(cfg.code_dim, use_bias=cfg.head_bias, dtype=self.dtype, kernel_init=init,
                        name=official(cfg.head_name, "proj"))
        values = head(layer_norm(registers)).astype(jnp.float32)
        if cfg.linear_code is not None:
            frames = einops.rearrange(check_frame_size(latents, cfg.linear_code).astype(jnp.float32),
                                      "b (t pt) h w c -> b t (pt h w c)", pt=cfg.patch.patch_sizes[0])
            linear = nn.Dense(cfg.num_registers * cfg.code_dim, kernel_init=nn.initializers.zeros,
                              name=official(cfg.head_name, LINEAR_CODE_KEY))(frames)
            values = values + linear.reshape(values.shape)
        if cfg.code_norm:  # bounded: every token's values have RMS 1 over its code dims
            values = values * jax.lax.rsqrt(jnp.mean(jnp.square(values), axis=-1, keepdims=True) + CODE_NORM_EPS)
        return values


class FlexDecoder(nn.Module):
    """The flow decoder: velocity `[B, T, H, W, C]` of `noisy` at times `t` `[B]` given codes `[B, T, R, d]`.

    `keep` `[B]`: registers >= keep become the nested-dropout mask token (keep = R keeps all); or a
    boolean `[B, R]`: the registers to keep (any subset; the others become the mask token);
    `prefix` `[B]`: registers of frames < prefix become the prefix mask token (where the config
    has that module); `null` `[B]` bool: all registers become the learned null condition.
    """

    config: DecoderConfig
    dtype: jnp.dtype = jnp.float32

    def register_tokens(self, codes, keep, prefix, null) -> jax.Array:
        cfg, dim = self.config, self.config.trunk.dim
        regs = nn.Dense(dim, use_bias=cfg.from_codes_bias, dtype=self.dtype, kernel_init=xavier,
                        name=official(cfg.from_codes_name, "proj"))(codes.astype(self.dtype))
        if cfg.register_posemb is not None:
            regs = PositionalEmbedding(cfg.register_posemb, dim, name=official(cfg.register_posemb.name))(regs)
        token = lambda name, leaf: self.param(official(name, leaf), small_normal, (dim,)).astype(regs.dtype)  # noqa: E731
        dropped, in_prefix = self.masks(codes.shape, keep, prefix)
        regs = jnp.where(dropped[..., None], token(cfg.nested_dropout_name, "dropout_mask_token"), regs)
        if cfg.prefix_masking_name is not None:
            regs = jnp.where(in_prefix[..., None], token(cfg.prefix_masking_name, "dropout_mask_token"), regs)
        return jnp.where(null[:, None, None, None], token(cfg.nullcond_name, "nullcond"), regs)

    @staticmethod
    def masks(shape, keep, prefix) -> tuple[jax.Array, jax.Array]:
        """Which registers of codes of ``shape`` ``[B, T, r, d]`` nested dropout drops (``[B, 1, r]``) and which are
        in the prefix frames (``[B, T, 1]``)."""
        r, t = shape[2], shape[1]
        dropped = ~keep[:, None, :] if keep.ndim == 2 else jnp.arange(r)[None, None, :] >= keep[:, None, None]
        return dropped, jnp.arange(t)[None, :, None] < prefix[:, None, None]

    def linear_read_out(self, codes, keep, prefix, null) -> jax.Array:
        """The clean latents ``[B, T, h, w, C]`` read linearly from the kept codes (the others read as zero)."""
        cfg = self.config
        dropped, in_prefix = self.masks(codes.shape, keep, prefix)
        kept = ~(dropped | in_prefix | null[:, None, None])
        codes = jnp.where(kept[..., None], codes.astype(jnp.float32), 0.0)
        codes = jnp.pad(codes, ((0, 0), (0, 0), (0, cfg.code_registers - codes.shape[2]), (0, 0)))
        h, w = cfg.linear_code
        c = cfg.patch.channels_in
        pt = cfg.patch.patch_sizes[0]
        frames = nn.Dense(pt * h * w * c, kernel_init=nn.initializers.zeros,
                          name=official(cfg.head_name, LINEAR_CODE_KEY))(codes.reshape(*codes.shape[:2], -1))
        return einops.rearrange(frames, "b t (pt h w c) -> b (t pt) h w c", pt=pt, h=h, w=w)

    def time_embedding(self, t: jax.Array) -> jax.Array:
        cfg, dim = self.config, self.config.trunk.dim
        args = t.astype(jnp.float32)[:, None] * timestep_frequencies(cfg.frequency_size, cfg.max_timestep)[None]
        emb = jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)
        if cfg.frequency_size % 2:
            emb = jnp.concatenate([emb, jnp.zeros_like(emb[:, :1])], axis=-1)
        dense = lambda i: nn.Dense(dim, dtype=self.dtype, kernel_init=xavier, name=official(cfg.time_embedder_name, f"mlp.{i}"))  # noqa: E731
        return dense(2)(nn.silu(dense(0)(emb)))

    @nn.compact
    def __call__(self, codes, noisy, t, keep, prefix, null) -> jax.Array:
        cfg, dim = self.config, self.config.trunk.dim
        registers = self.register_tokens(codes, keep, prefix, null)
        patches = patchify(noisy.astype(self.dtype), cfg.patch.patch_sizes)
        patches = nn.Dense(cfg.patch.dim, dtype=self.dtype, kernel_init=xavier,
                           name=official(cfg.patch.name, "patch_proj"))(patches)
        patches = PositionalEmbedding(cfg.posemb, dim, name=official(cfg.posemb.name))(patches)
        temb = self.time_embedding(t)
        b, tt, h, w, _ = patches.shape
        r = registers.shape[2]
        mask = attention_mask(cfg.trunk.mask_mode, tt, h * w, r)
        segments = np.tile(np.repeat(np.arange(2), [h * w, r]), tt)
        seq = Trunk(cfg.trunk, self.dtype, name=official(cfg.trunk.name))(
            interleave(patches.reshape(b, tt, h * w, dim), registers), mask, temb, segments)
        patches = layer_norm(seq.reshape(b, tt, h * w + r, dim)[:, :, :h * w])
        if cfg.head_adaln:
            shift_scale = nn.Dense(2 * dim, use_bias=cfg.head_adaln_bias, dtype=self.dtype, kernel_init=nn.initializers.zeros,
                                   name=official(cfg.head_name, "adaLN_modulation.1"))(nn.silu(temb))
            shift, scale = jnp.split(shift_scale[:, None, None], 2, axis=-1)
            patches = modulate(patches, shift, scale)
        out_dim = int(np.prod(cfg.patch.patch_sizes)) * cfg.patch.channels_in
        out = nn.Dense(out_dim, use_bias=cfg.head_bias, dtype=self.dtype, kernel_init=nn.initializers.zeros,
                       name=official(cfg.head_name, "proj"))(patches.reshape(b, tt, h, w, dim))
        out = unpatchify(out, cfg.patch.patch_sizes, cfg.patch.channels_in).astype(jnp.float32)
        if cfg.linear_code is None:
            return out
        clean = self.linear_read_out(codes, keep, prefix, null) + out
        time = jnp.maximum(t.astype(jnp.float32), MIN_FLOW_TIME)[:, None, None, None, None]
        return (check_frame_size(noisy, cfg.linear_code).astype(jnp.float32) - clean) / time
