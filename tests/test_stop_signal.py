"""StopOnSignal: a training run's first SIGTERM/SIGINT is recorded, the next one acts as usual."""

import os
import signal

import pytest

from vidtok_jax.train.stop_signal import StopOnSignal


def test_first_signal_is_recorded_and_handlers_come_back():
    before, interrupt_handler = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with StopOnSignal() as stop:
        assert stop.received is None
        assert signal.getsignal(signal.SIGTERM) not in (before, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.received == signal.SIGTERM
        assert signal.getsignal(signal.SIGTERM) == before  # a second SIGTERM would stop at once
    assert signal.getsignal(signal.SIGTERM) == before
    assert signal.getsignal(signal.SIGINT) == interrupt_handler  # Ctrl-C's handler is back too


def test_ctrl_c_is_caught_too():
    with StopOnSignal() as stop:
        os.kill(os.getpid(), signal.SIGINT)
    assert stop.received == signal.SIGINT


def test_a_data_error_after_a_signal_is_a_stop_and_before_it_an_error():
    def failing():
        yield {"video": 1}
        raise RuntimeError("Worker process was terminated unexpectedly")

    with StopOnSignal() as stop:
        batches = failing()
        assert stop.next_unless_stopped(batches) == {"video": 1}
        with pytest.raises(RuntimeError, match="terminated unexpectedly"):
            stop.next_unless_stopped(batches)
        batches = failing()
        next(batches)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.next_unless_stopped(batches) is None
