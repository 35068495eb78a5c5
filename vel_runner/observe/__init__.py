"""Observability: turn hooks (:mod:`.hooks`), Prometheus metrics (:mod:`.metrics`),
OpenTelemetry GenAI traces (:mod:`.traces`) and request-scoped JSON logs (:mod:`.logs`).

Only :mod:`.hooks` is imported by the agent; it is standard library only and costs one
attribute check per turn while nothing observes. The others load when a server (or a library
user) turns them on.
"""
