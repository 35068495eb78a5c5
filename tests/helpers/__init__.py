"""Shared test helpers (imported as ``helpers.<module>``; tests/ is on the import path).

- :mod:`helpers.net`: ``free_port``;
- :mod:`helpers.waiting`: ``wait_until`` (await a condition instead of sleeping);
- :mod:`helpers.clock`: ``FrozenClock`` for the stores, the runtime and the dashboard;
- :mod:`helpers.fake_openai`: a real OpenAI-compatible server on loopback;
- :mod:`helpers.pgserver`: a throwaway PostgreSQL and its fixtures (a pytest plugin);
- :mod:`helpers.server`: the app on a real uvicorn, ``vel-runner serve`` in a process, SSE;
- :mod:`helpers.live_server`: a server in a background thread, for the dashboard's tests.
"""
