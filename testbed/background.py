"""One background thread a test or benchmark starts and stops: the loop of a sampler or writer."""

import threading


class Background:
    """Runs :meth:`_run` in a daemon thread between :meth:`start` and :meth:`stop`; ``_run``
    loops until ``self._stop`` is set."""

    def __init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        raise NotImplementedError

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)
        return self
