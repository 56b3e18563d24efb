"""Train or fine-tune a tokenizer from a checkout: the same command as ``python -m vidtok_jax.train``.

    python train.py --config tiny_cpu --workdir /tmp/run [--steps N] [--set key=value ...]
    python train.py export --workdir /tmp/run --out model.safetensors [--ema] [--weights-only] [--float16]
"""

import sys

from vidtok_jax.train.command import main

if __name__ == "__main__":
    sys.exit(main())
