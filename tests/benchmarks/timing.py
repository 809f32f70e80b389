"""What the benchmark scripts share: how one region is timed."""

import time

#: OpenBLAS's worker threads spin for about 0.1 s after a call and slow whatever runs next
#: (measured, ../shared/COURSE.md section 6): every timed region starts after this pause.
PAUSE = 0.2


def timed(fn):
    """Seconds taken by ``fn()``, after the pause."""
    time.sleep(PAUSE)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
