"""Videos as streams of frame chunks (arrays ``[n, ...]`` along time): regroup, pad, count, trim, pair.

The command line never needs a whole video in memory when the model streams: frames flow from
the file through these generators into the tokenizer and out to the writer.
"""

from collections import deque
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from vidtok_jax.errors import InputError


def regroup(chunks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """The same frames in pieces of ``size`` frames; the last piece may be shorter."""
    pending = _Frames()
    for chunk in chunks:
        pending.push(chunk)
        while len(pending) >= size:
            yield pending.pop(size)
    if len(pending):
        yield pending.pop(len(pending))


def pad_end(chunks: Iterable[np.ndarray], total: int) -> Iterator[np.ndarray]:
    """The chunks, then copies of the last frame until ``total`` frames have come."""
    count, last = 0, None
    for chunk in chunks:
        count += len(chunk)
        last = chunk[-1:]
        yield chunk
    if count < total:
        yield np.repeat(last, total - count, axis=0)


def exactly(chunks: Iterable[np.ndarray], count: int, name: str) -> Iterator[np.ndarray]:
    """The chunks, checked to hold ``count`` frames in all, as announced by the container of ``name``."""
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        if seen > count:
            break
        yield chunk
    if seen != count:
        usable = min(seen, count)
        raise InputError(f"{name}: the container announces {count} frames but {'more' if seen > count else seen} "
                         f"were decoded (streaming needs the count up front): run again with --max-frames {usable}")


def skip_and_take(chunks: Iterable[np.ndarray], skip: int, count: int) -> Iterator[np.ndarray]:
    """Drop the first ``skip`` frames, then give ``count`` frames and stop."""
    for chunk in chunks:
        dropped = min(skip, len(chunk))
        chunk, skip = chunk[dropped:][:count], skip - dropped
        if len(chunk):
            count -= len(chunk)
            yield chunk
        if count == 0:
            return


def paired_with_inputs(inputs: Iterable[np.ndarray], model: Callable[[Iterator[np.ndarray]], Iterable[np.ndarray]]
                       ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Run ``model`` on the stream ``inputs`` and pair every output chunk with the input frames it came from.

    The model must give one output frame per input frame, in order (it may stop early); only the
    frames it has taken and not yet given back are held.
    """
    held = _Frames()

    def remembered() -> Iterator[np.ndarray]:
        for chunk in inputs:
            held.push(chunk)
            yield chunk

    for output in model(remembered()):
        yield held.pop(len(output)), output


class CountedFrames:
    """An iterable over chunks that counts the frames it has given."""

    def __init__(self, chunks: Iterable[np.ndarray]):
        self._chunks = chunks
        self.count = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        for chunk in self._chunks:
            self.count += len(chunk)
            yield chunk


class _Frames:
    """A queue of frames kept as the chunks they came in."""

    def __init__(self):
        self._chunks: deque[np.ndarray] = deque()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def push(self, chunk: np.ndarray) -> None:
        self._chunks.append(chunk)
        self._count += len(chunk)

    def pop(self, count: int) -> np.ndarray:
        """The first ``count`` frames, as one array."""
        taken, needed = [], count
        while needed:
            chunk = self._chunks.popleft()
            taken.append(chunk[:needed])
            if len(chunk) > needed:
                self._chunks.appendleft(chunk[needed:])
            needed -= len(taken[-1])
        self._count -= count
        return np.concatenate(taken) if len(taken) > 1 else taken[0]
