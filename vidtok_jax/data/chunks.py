"""Videos as streams of frame chunks: regroup, pad, join, count, trim, pair. The one place chunks are regrouped.

Chunks are arrays along a time axis: ``[n, ...]`` frames as the command line reads them (axis 0),
or ``[B, n, ...]`` batches as the tokenizer's streaming takes them (axis 1), numpy or jax arrays.
The command line never needs a whole video in memory when the model streams: frames flow from
the file through these generators into the tokenizer and out to the writer.
"""

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.errors import InputError


def regroup(chunks: Iterable, size: int | Iterator[int], axis: int = 0) -> Iterator:
    """The same frames in pieces of ``size`` frames (or of the successive sizes an iterator gives) along
    ``axis``; the last piece may be shorter."""
    sizes = itertools.repeat(size) if isinstance(size, (int, np.integer)) else size
    pending, wanted = _Frames(axis), next(sizes)
    for chunk in chunks:
        pending.push(chunk)
        while len(pending) >= wanted:
            yield pending.pop(wanted)
            wanted = next(sizes)
    if len(pending):
        yield pending.pop(len(pending))


def with_last(items: Iterable) -> Iterator[tuple[object, bool]]:
    """``(item, is_last)`` for every item, looking one item ahead."""
    iterator = iter(items)
    try:
        current = next(iterator)
    except StopIteration:
        return
    for following in iterator:
        yield current, False
        current = following
    yield current, True


def pad_end(chunks: Iterable[np.ndarray], total: int) -> Iterator[np.ndarray]:
    """The chunks, then copies of the last frame until ``total`` frames have come."""
    count, last = 0, None
    for chunk in chunks:
        count += len(chunk)
        last = chunk[-1:]
        yield chunk
    if count < total:
        yield last.repeat(total - count, axis=0)  # numpy or jax, where the frames are


def padded(chunks: Iterable, total: int):
    """The chunks as one array of ``total`` frames, the last frame repeated to fill it (numpy or jax, as given)."""
    return joined(list(pad_end(chunks, total)))


def joined(pieces: list, axis: int = 0):
    """``pieces`` concatenated along ``axis``: a jax array if any piece is one, else numpy; one piece as it is."""
    if len(pieces) == 1:
        return pieces[0]
    join = jnp.concatenate if any(isinstance(piece, jax.Array) for piece in pieces) else np.concatenate
    return join(pieces, axis=axis)


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
    """A queue of frames along ``axis``, kept as the chunks they came in."""

    def __init__(self, axis: int = 0):
        self._chunks: deque = deque()
        self._count = 0
        self._axis = axis

    def __len__(self) -> int:
        return self._count

    def _cut(self, chunk, start: int, stop: int | None):
        return chunk[(slice(None),) * self._axis + (slice(start, stop),)]

    def push(self, chunk) -> None:
        self._chunks.append(chunk)
        self._count += chunk.shape[self._axis]

    def pop(self, count: int):
        """The first ``count`` frames, as one array (a jax array if any of its chunks is one)."""
        taken, needed = [], count
        while needed:
            chunk = self._chunks.popleft()
            taken.append(self._cut(chunk, 0, needed))
            if chunk.shape[self._axis] > needed:
                self._chunks.appendleft(self._cut(chunk, needed, None))
            needed -= taken[-1].shape[self._axis]
        self._count -= count
        return joined(taken, self._axis)
