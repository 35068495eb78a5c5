"""``vel-runner serve``: the agents over HTTP (JSON, SSE, an admin API, OpenAI-compatible).

Importing this package is cheap (the CLI imports ``command`` to build its parser); FastAPI is
imported only with :mod:`vel_runner.server.app`::

    from vel_runner.server.app import create_app
    app = create_app(runtime, api_key="...")
"""

from __future__ import annotations
