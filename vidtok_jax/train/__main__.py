"""``python -m vidtok_jax.train``: the training command (see ``vidtok_jax.train.command``)."""

import sys

from vidtok_jax.train.command import main

sys.exit(main())
