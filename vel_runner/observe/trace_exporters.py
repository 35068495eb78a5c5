"""The span exporters the standard OpenTelemetry variables ask for, as the SDK's own
auto-configuration reads them:

- ``OTEL_TRACES_EXPORTER``: a comma-separated list of ``otlp`` (the default), ``console``
  (spans printed on stdout), ``none``, or the name of any exporter installed under the
  ``opentelemetry_traces_exporter`` entry point group (``zipkin_json``...).
- ``otlp`` speaks ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` (else ``OTEL_EXPORTER_OTLP_PROTOCOL``):
  ``http/protobuf`` (the default, installed by the ``otel`` extra) or ``grpc`` (with
  ``opentelemetry-exporter-otlp-proto-grpc`` installed). The exporters read their own
  variables (endpoint, headers, timeout).

An exporter that is named but not installed is a warning naming the installed ones, not a
crash: the server runs without that exporter.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

EXPORTER_ENV = "OTEL_TRACES_EXPORTER"
#: The entry point group exporters register under (the SDK's auto-configuration uses it too).
GROUP = "opentelemetry_traces_exporter"
#: The entry point of ``otlp`` for each protocol.
OTLP_BY_PROTOCOL = {"http/protobuf": "otlp_proto_http", "grpc": "otlp_proto_grpc"}


def exporter_names(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The exporters ``OTEL_TRACES_EXPORTER`` names (``otlp`` when unset; ``none`` dropped)."""
    raw = environ.get(EXPORTER_ENV, "")
    names = [name.strip().lower() for name in raw.split(",") if name.strip()] or ["otlp"]
    return [name for name in names if name != "none"]


def _otlp_entry(environ: Mapping[str, str]) -> str:
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    entry = OTLP_BY_PROTOCOL.get(protocol.lower())
    if entry is None:
        log.warning(
            "OTLP protocol %r is not supported for traces (use %s); using http/protobuf",
            protocol,
            " or ".join(OTLP_BY_PROTOCOL),
        )
        return OTLP_BY_PROTOCOL["http/protobuf"]
    return entry


def exporters(environ: Mapping[str, str] = os.environ) -> list[Any]:
    """A new span exporter for each name :func:`exporter_names` gives (installed ones)."""
    from importlib.metadata import entry_points

    made = []
    for name in exporter_names(environ):
        entry = _otlp_entry(environ) if name == "otlp" else name
        found = list(entry_points(group=GROUP, name=entry))
        if not found:
            installed = sorted({point.name for point in entry_points(group=GROUP)})
            log.warning(
                "%s names %r but no such span exporter is installed (installed: %s); "
                "its spans are not exported",
                EXPORTER_ENV,
                name if name == entry else f"{name} ({entry})",
                ", ".join(installed) or "none",
            )
            continue
        made.append(found[0].load()())
    return made


__all__ = ["EXPORTER_ENV", "exporter_names", "exporters"]
