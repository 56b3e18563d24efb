"""Stop a training run cleanly on SIGTERM or Ctrl-C: the step in flight finishes, a checkpoint is saved.

Schedulers send SIGTERM before they preempt a job; without this the run would lose everything
since its last periodic checkpoint. A second signal of the same kind stops at once (the default
behaviour). Installed only in a single-process run's main thread: with several processes one of
them stopping alone would leave the others waiting in a collective, so there the signal keeps its
default meaning and the run resumes from its last periodic checkpoint. A signal sent to the whole
process group (a scheduler's SIGTERM) also ends the data workers: ``next_unless_stopped`` turns
the data error that follows into a normal stop, so the steps already done are still saved.
"""

from __future__ import annotations

import signal
import threading

import jax

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopOnSignal:
    """Context manager; ``received`` is the first signal caught (a ``signal.Signals``) or None."""

    def __init__(self, signals: tuple[signal.Signals, ...] = STOP_SIGNALS):
        self.signals, self.received, self._previous = signals, None, {}

    def _handle(self, number, frame) -> None:
        self.received = signal.Signals(number)
        signal.signal(number, self._previous[number])

    def next_unless_stopped(self, iterator):
        """``next(iterator)``, or None when it fails after a signal arrived (the signal may have ended its workers)."""
        try:
            return next(iterator)
        except Exception:
            if self.received is None:
                raise
            return None

    def __enter__(self) -> StopOnSignal:
        if jax.process_count() == 1 and threading.current_thread() is threading.main_thread():
            self._previous = {number: signal.signal(number, self._handle) for number in self.signals}
        return self

    def __exit__(self, *exc_info) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous = {}
