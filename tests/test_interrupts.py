"""Once the run finishes (destroys its targets, publishes), a signal is acknowledged, not obeyed."""

import os
import signal

import pytest

from pytest_telescope import interrupts


def test_sigterm_and_sighup_interrupt_like_ctrl_c_until_restored():
    previous = interrupts.install()
    try:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            with pytest.raises(KeyboardInterrupt, match=signal.Signals(signum).name):
                os.kill(os.getpid(), signum)
    finally:
        interrupts.restore(previous)
    assert signal.getsignal(signal.SIGHUP) == previous[signal.SIGHUP]


def test_while_finishing_a_signal_is_acknowledged_on_one_line_and_the_work_goes_on():
    said = []
    with interrupts.finishing(said.append, "run-1", window=0.0) as finishing:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGHUP)
        done = True

    assert done and finishing.interrupted and finishing.received == ["SIGTERM", "SIGINT", "SIGHUP"]
    assert said[0] == (
        "SIGTERM: destroying the targets, Ctrl-C again in 0 s to abandon; "
        "`telescope cleanup --run-id run-1` removes what is left"
    )
    assert len(said) == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_signal_within_the_window_abandons():
    said = []
    with pytest.raises(KeyboardInterrupt, match="SIGINT again: the targets' teardown abandoned"):
        with interrupts.finishing(said.append, "run-1", window=60):
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
    assert len(said) == 1
