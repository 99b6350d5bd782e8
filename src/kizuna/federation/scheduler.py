"""Run peers' syncs when they are due: in `kizuna serve` (a background thread per process)
and in `kizuna sync` (the foreground). The peer's lease (see :mod:`kizuna.federation.sync`)
makes it safe for several processes to schedule the same peers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from kizuna.config import Settings
from kizuna.federation.sync import PAGE, SyncResult, due_peers, sync_peer

__all__ = ["Scheduler"]

log = logging.getLogger("kizuna.federation")


class Scheduler:
    """``tick`` runs every due peer once; ``start`` ticks in a daemon thread until ``stop``."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        names: set[str] | None = None,
        on_result: Callable[[SyncResult], None] | None = None,
        period_s: float = 1.0,
        page_size: int = PAGE,
        after_tick: Callable[[], None] | None = None,
    ) -> None:
        # Other periodic node work (the incident duty watcher) rides on the same thread.
        self._after_tick = after_tick
        self._page_size = page_size
        self._engine = engine
        self._settings = settings
        self._names = names
        self._on_result = on_result
        self._period_s = period_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> list[SyncResult]:
        results: list[SyncResult] = []
        for name in due_peers(self._engine):
            if self._stop.is_set():
                break
            if self._names is not None and name not in self._names:
                continue
            try:
                result = sync_peer(self._engine, self._settings, name, page_size=self._page_size)
            except Exception:  # a scheduler must outlive one bad run; the log says why
                log.exception("peer %s: sync run failed", name)
                continue
            results.append(result)
            if self._on_result is not None:
                self._on_result(result)
        if self._after_tick is not None and not self._stop.is_set():
            try:
                self._after_tick()
            except Exception:  # like a sync run: one bad pass must not stop the scheduler
                log.exception("after-tick work failed")
        return results

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("sync scheduler tick failed")
            self._stop.wait(self._period_s)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kizuna-sync", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
