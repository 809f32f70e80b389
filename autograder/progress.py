"""A plain-text progress bar on stderr: done/total, elapsed, estimated time left (``\\r`` redraw)."""

from __future__ import annotations

import sys
import threading
import time


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Thread-safe; redraws on each ``advance`` and once a second while running."""

    def __init__(self, total: int, label: str = "grading", stream=None, width: int = 24,
                 enabled: bool = True):
        self.total, self.label, self.width = total, label, width
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.done = 0
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = now - self.start
        frac = self.done / self.total if self.total else 1.0
        filled = int(round(frac * self.width))
        if self.done:
            left = "~" + _clock(elapsed / self.done * (self.total - self.done))
        else:
            left = "?"
        return (f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}"
                f"  elapsed {_clock(elapsed)}  left {left}")

    def _draw(self) -> None:
        if self.enabled:
            self.stream.write("\r" + self.line() + "  ")
            self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                self._draw()

    def __enter__(self):
        self.start = time.monotonic()
        with self._lock:
            self._draw()
        tty = getattr(self.stream, "isatty", lambda: False)()
        if self.enabled and tty:  # a log file gets one redraw per finished item, not one a second
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            self._draw()

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread:
            self._thread.join()
        with self._lock:
            self._draw()
            if self.enabled:
                self.stream.write("\n")
                self.stream.flush()
        return False
