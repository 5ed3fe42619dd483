"""Signals that end a run: Ctrl-C, SIGTERM and SIGHUP (a closed terminal, a dropped SSH session).

During the tests each of them interrupts the run as Ctrl-C does. Once the run has
begun to destroy its targets and publish its results, that work finishes: a signal
is acknowledged on one line, and only a second one within ``ABANDON_WINDOW``
seconds abandons it.
"""

from __future__ import annotations

import contextlib
import signal
import time
from typing import Callable, Iterator

ENDING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
ABANDON_WINDOW = 5.0  # seconds


def interrupt(signum, frame):
    """SIGTERM and SIGHUP end the run like Ctrl-C does: targets are destroyed and results written."""
    raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")


def install() -> dict:
    """SIGTERM and SIGHUP as Ctrl-C; returns the handlers they had, for ``restore``."""
    return {signum: signal.signal(signum, interrupt) for signum in ENDING if signum != signal.SIGINT}


def restore(previous: dict) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


class Finishing:
    """The signals received while finishing; ``interrupted`` when there was one."""

    def __init__(self):
        self.received: list[str] = []

    @property
    def interrupted(self) -> bool:
        return bool(self.received)


@contextlib.contextmanager
def finishing(say: Callable[[str], None], run_id: str, window: float = ABANDON_WINDOW) -> Iterator[Finishing]:
    """Within, a signal is acknowledged, not obeyed; another within ``window`` seconds of it
    raises ``KeyboardInterrupt``: the user abandons what is left to ``telescope cleanup``."""
    state = Finishing()
    last = [float("-inf")]

    def acknowledge(signum, frame):
        name = signal.Signals(signum).name
        now = time.monotonic()
        state.received.append(name)
        if now - last[0] <= window:
            raise KeyboardInterrupt(f"received {name} again: the targets' teardown abandoned")
        last[0] = now
        say(
            f"{name}: destroying the targets, Ctrl-C again in {window:g} s to abandon; "
            f"`telescope cleanup --run-id {run_id}` removes what is left"
        )

    previous = {signum: signal.signal(signum, acknowledge) for signum in ENDING}
    try:
        yield state
    finally:
        restore(previous)
