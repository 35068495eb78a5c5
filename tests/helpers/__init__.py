"""Shared test helpers (imported as ``helpers.<module>``; tests/ is on the import path).

- :mod:`helpers.paths`: ``REPO_ROOT`` and ``TESTS``, wherever a test file sits;
- :mod:`helpers.net`: ``free_port`` (each test worker its own ports);
- :mod:`helpers.waiting`: ``wait_until`` (await a condition instead of sleeping),
  ``loop_passes``, ``saved_until_seen`` (a file watcher);
- :mod:`helpers.clock`: ``FrozenClock`` for the stores, the runtime and the dashboard; ``past``
  (a TTL run out on the real clock);
- :mod:`helpers.scripted`: a model whose replies wait on gates the test opens;
- :mod:`helpers.stores`: both session stores; ``HeldTurn`` (a turn in flight until the test
  lets it commit), ``waiting_for_the_session``, ``events_settled``;
- :mod:`helpers.fake_openai`: a real OpenAI-compatible server on loopback;
- :mod:`helpers.pgserver`: a throwaway PostgreSQL and its fixtures (a pytest plugin);
- :mod:`helpers.server`: the app on a real uvicorn, ``vel-runner serve`` in a process, SSE;
- :mod:`helpers.live_server`: a server in a background thread, for the dashboard's tests;
- :mod:`helpers.dashboard`: the dashboard under Pilot against that server, on its main screen;
- :mod:`helpers.node`, :mod:`helpers.mcp_servers`: the node harnesses, the MCP test servers
  (``demo_config``: agents.yaml with the demo server).
"""
