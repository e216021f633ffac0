"""A background tick in the server process: offers left unanswered go to the next secretary.

Offers are also made at once when a call arrives or a secretary becomes ready;
the tick only catches what time alone changes (an offer lapsing).
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connections

from permanence.calls import services

log = logging.getLogger(__name__)


class Ticker:
    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="desk-dispatch", daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            close_old_connections()
            try:
                services.dispatch()
            except Exception:  # the next tick tries again; a tick must never kill the server
                log.exception("dispatch tick failed")
        connections.close_all()  # this thread's connections: the database may be dropped (tests)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
