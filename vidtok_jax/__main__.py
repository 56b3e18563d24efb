"""``python -m vidtok_jax``: the ``vidtok-jax`` command."""

import sys

from vidtok_jax.cli import main

sys.exit(main())
