"""``vel-runner monitor``: a Textual dashboard of a running server's sessions.

It reads and acts only through the server's HTTP API (``docs/http-api.md``), so it sees
memory sessions too. Importing this package is cheap: textual and httpx are imported by the
modules that need them, which ``command.run`` loads only when the dashboard starts.
"""
