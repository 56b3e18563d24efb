"""Exception types raised for bad input, so callers can catch them without parsing messages."""


class VidTokError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(VidTokError, ValueError):
    """A model or training config is unknown, incomplete or inconsistent."""


class CheckpointError(VidTokError, ValueError):
    """A checkpoint file is unreadable, unsafe, truncated or does not fit the model."""


class InputError(VidTokError, ValueError):
    """An array given to the tokenizer has the wrong shape, range or dtype."""
