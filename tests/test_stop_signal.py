"""StopOnSignal: a training run's first SIGTERM/SIGINT is recorded, the next one acts as usual."""

import os
import signal

from vidtok_jax.train.stop_signal import StopOnSignal


def test_first_signal_is_recorded_and_handlers_come_back():
    before = signal.getsignal(signal.SIGTERM)
    with StopOnSignal() as stop:
        assert stop.received is None
        assert signal.getsignal(signal.SIGTERM) not in (before, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.received == signal.SIGTERM
        assert signal.getsignal(signal.SIGTERM) == before  # a second SIGTERM would stop at once
    assert signal.getsignal(signal.SIGTERM) == before
    assert signal.getsignal(signal.SIGINT) == signal.default_int_handler


def test_ctrl_c_is_caught_too():
    with StopOnSignal() as stop:
        os.kill(os.getpid(), signal.SIGINT)
    assert stop.received == signal.SIGINT
