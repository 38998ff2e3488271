"""Graceful shutdown: on SIGTERM, /ready turns 503 at once and the service keeps serving for a
drain period, so the platform stops routing to it before uvicorn closes the listener.

Why the app steps in front of uvicorn (uvicorn 0.54, `uvicorn/server.py`): `Server.handle_exit`
only sets `should_exit`; on its next 0.1 s tick `Server.shutdown` closes the listening socket,
closes every idle keep-alive connection, waits up to `timeout_graceful_shutdown` for requests in
flight, and only then sends the ASGI lifespan shutdown event. Left alone, the app would learn of
the shutdown after the draining is over, and a router still sending it new requests in the
first moments after SIGTERM would meet refused or reset connections.

How: uvicorn installs `handle_exit` with `signal.signal` in the main thread of every process
that serves (`Server.capture_signals`), before the lifespan starts. With --workers the
supervisor forwards the SIGTERM it gets to each worker (`supervisors/multiprocess.py`,
`Process.terminate`), and each worker runs its own `Server`. So one relay installed from the
lifespan sees the signal in one process or in several, and hands it on to uvicorn after the
drain.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

_log = logging.getLogger(__name__)

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class Shutdown:
    """Whether this process is shutting down, and the SIGTERM relay that starts it."""

    def __init__(self, drain_seconds: float) -> None:
        self.drain_seconds = drain_seconds
        self.begun = False
        self._relay: _Handler = None
        self._server_handler: _Handler = None
        self._timer: asyncio.TimerHandle | None = None
        self._handed_on = False

    def intercept_sigterm(self) -> None:
        """Put the drain in front of the server's SIGTERM handler; call from the serving loop."""
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach the main thread only (an in-process test client's app)
        loop = asyncio.get_running_loop()

        def relay(signum: int, frame: FrameType | None) -> None:
            # Runs between two bytecodes of the loop's thread: set the flag here, and leave
            # logging and timers to the loop (call_soon_threadsafe is the signal-safe way in).
            if self.begun:
                # Asked twice: whoever sent it will not wait for the drain.
                loop.call_soon_threadsafe(self._hand_on)
                return
            self.begun = True
            loop.call_soon_threadsafe(self._drain, loop)

        self._relay = relay
        self._server_handler = signal.signal(signal.SIGTERM, relay)

    def release_sigterm(self) -> None:
        """Give SIGTERM back to the server's handler, if the relay is still installed."""
        if self._relay is not None and signal.getsignal(signal.SIGTERM) is self._relay:
            signal.signal(signal.SIGTERM, self._server_handler)
        self._relay = None
        if self._timer is not None:
            self._timer.cancel()

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        _log.info(
            "shutdown begun: /ready answers 503, serving on until the drain ends",
            extra={"fields": {"drain_seconds": self.drain_seconds}},
        )
        self._timer = loop.call_later(self.drain_seconds, self._hand_on)

    def _hand_on(self) -> None:
        """The server's own SIGTERM handling: stop accepting, finish what is in flight, exit."""
        if self._handed_on:
            return
        self._handed_on = True
        if self._timer is not None:
            self._timer.cancel()
        handler = self._server_handler
        if callable(handler):
            handler(signal.SIGTERM, None)
            return
        # Not a Python handler (the default action, or one set outside Python): restore it and
        # deliver the signal again, so it does what it would have done without the relay.
        signal.signal(signal.SIGTERM, handler if handler is not None else signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)


def exit_cleanly_on_sigterm() -> None:
    """Make SIGTERM end the process with exit code 0 wherever uvicorn is not handling it.

    uvicorn re-raises the signal it handled once its graceful shutdown is over, after putting
    the previous handler back (`Server.capture_signals`); with Python's default handler the
    process would then die of SIGTERM (exit status 143) after a clean stop. A stop that was
    asked for is a success. This also stops a start-up that SIGTERM interrupts.
    """

    def stop(signum: int, frame: FrameType | None) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
