"""Keep full garbage collections short in long-running processes (the server, the dashboard).

CPython's full collection walks every object the collector tracks. A server or a dashboard
holds a few hundred thousand of them, nearly all created at start-up (modules, classes, the
app) and alive until exit, so each full collection is a visible pause of every request or of
the screen, every few seconds under load. Once start-up is done, :func:`settle_heap`
collects, then freezes what is alive (``gc.freeze``): later collections skip it and are
several times shorter (figures: docs/performance.md). Frozen objects are still freed when
their last reference goes; only a cycle among them would outlive its use, which is why this
runs once, after a collection, and only in the commands (tests leave it off).
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect, then move every object alive now out of the collector's future passes."""
    gc.collect()
    gc.freeze()
