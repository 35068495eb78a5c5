"""Cassettes: the model exchanges of one eval file, recorded once and replayed offline.

A cassette is a JSON Lines file (``evals/cassettes/<name>.jsonl``): a header line, then one
exchange per line in case order: the case, repeat, turn and order (``seq``) it belongs to,
the request exactly as the provider got it (``model``, ``messages``, ``settings`` with the
tools and generation settings) and the response (a whole completion, or the chunks of a
stream). Exchanges are keyed by a hash of the canonical request, so a replay finds the answer
to the same request, and a request that changed (an edited instruction, a new tool) finds
none: a *cassette miss*.

Secrets never reach the file: requests carry no credentials, and every string written goes
through :func:`vel_runner.redact.redact` with the config's known secrets (keys, URL and DSN
passwords, credential-named environment variables) and the credential shapes it knows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..providers.base import Chunk, Completion, ToolCallDelta, Usage
from ..redact import redact
from ..tools.base import ToolCall

FORMAT = 1


class CassetteError(Exception):
    """A cassette file that cannot be read (not JSON Lines, not a cassette)."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One model request and its response, within a case run."""

    case: str
    repeat: int
    turn: int
    seq: int
    provider: str
    key: str
    request: dict[str, Any]
    response: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "repeat": self.repeat,
            "turn": self.turn,
            "seq": self.seq,
            "provider": self.provider,
            "key": self.key,
            "request": self.request,
            "response": self.response,
        }


def scrub(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` with every string redacted (keys of mappings included)."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {redact(str(k), secrets): scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item, secrets) for item in value]
    return value


def make_request(
    model: str, messages: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]
) -> dict[str, Any]:
    """The request as a plain JSON value (what is hashed, compared and written)."""
    return json.loads(
        json.dumps({"model": model, "messages": list(messages), "settings": dict(settings)})
    )


def request_key(request: Mapping[str, Any]) -> str:
    """A hash of the canonical request: equal requests, equal keys (key order aside)."""
    text = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# -- responses -------------------------------------------------------------------------------
def _usage_json(usage: Usage | None) -> dict[str, int] | None:
    return (
        None
        if usage is None
        else {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens}
    )


def _usage(raw: Any) -> Usage | None:
    return None if raw is None else Usage(int(raw["prompt"]), int(raw["completion"]))


def completion_json(completion: Completion) -> dict[str, Any]:
    return {
        "completion": {
            "text": completion.text,
            "tool_calls": [
                {"id": c.id, "name": c.name, "arguments": c.arguments}
                for c in completion.tool_calls
            ],
            "finish_reason": completion.finish_reason,
            "usage": _usage_json(completion.usage),
        }
    }


def chunks_json(chunks: Iterable[Chunk]) -> dict[str, Any]:
    out = []
    for chunk in chunks:
        item: dict[str, Any] = {}
        if chunk.delta:
            item["delta"] = chunk.delta
        if chunk.tool_call is not None:
            call = chunk.tool_call
            item["tool_call"] = {"id": call.id, "name": call.name, "arguments": call.arguments}
        if chunk.usage is not None:
            item["usage"] = _usage_json(chunk.usage)
        if chunk.finish_reason is not None:
            item["finish_reason"] = chunk.finish_reason
        out.append(item)
    return {"stream": out}


def as_completion(response: Mapping[str, Any]) -> Completion:
    """The recorded response as a whole reply (a recorded stream is joined)."""
    if "completion" in response:
        raw = response["completion"]
        calls = tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in raw["tool_calls"])
        return Completion(raw["text"], _usage(raw.get("usage")), calls, raw.get("finish_reason"))
    text: list[str] = []
    calls_by_id: dict[str, list[str]] = {}
    usage, reason = None, None
    for chunk in as_chunks(response):
        text.append(chunk.delta)
        if chunk.tool_call is not None:
            entry = calls_by_id.setdefault(chunk.tool_call.id, ["", ""])
            entry[0] = entry[0] or chunk.tool_call.name or ""
            entry[1] += chunk.tool_call.arguments
        usage = chunk.usage or usage
        reason = chunk.finish_reason or reason
    calls = tuple(ToolCall(i, name, args) for i, (name, args) in calls_by_id.items())
    return Completion("".join(text), usage, calls, reason)


def as_chunks(response: Mapping[str, Any]) -> list[Chunk]:
    """The recorded response as stream chunks (a recorded whole reply is one text chunk,
    one chunk per tool call, then the usage)."""
    if "completion" in response:
        whole = as_completion(response)
        chunks = [Chunk(whole.text)] if whole.text else []
        chunks += [
            Chunk(tool_call=ToolCallDelta(c.id, c.name, c.arguments)) for c in whole.tool_calls
        ]
        return [*chunks, Chunk(usage=whole.usage, finish_reason=whole.finish_reason)]
    chunks = []
    for item in response["stream"]:
        raw_call = item.get("tool_call")
        call = (
            None
            if raw_call is None
            else ToolCallDelta(raw_call["id"], raw_call.get("name"), raw_call.get("arguments", ""))
        )
        chunks.append(
            Chunk(item.get("delta", ""), _usage(item.get("usage")), call, item.get("finish_reason"))
        )
    return chunks


# -- files -----------------------------------------------------------------------------------
def read_cassette(path: Path) -> list[Exchange]:
    """The exchanges of ``path`` (none when it does not exist)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise CassetteError(f"{path}: cannot read the cassette: {exc}") from None
    exchanges = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            if number == 1:
                if raw.get("cassette") != FORMAT:
                    raise ValueError(f"not a vel-runner cassette (format {FORMAT})")
                continue
            exchanges.append(
                Exchange(
                    str(raw["case"]), int(raw["repeat"]), int(raw["turn"]), int(raw["seq"]),
                    str(raw["provider"]), str(raw["key"]), raw["request"], raw["response"],
                )
            )  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CassetteError(f"{path}:{number}: not a cassette line: {exc}") from None
    return exchanges


def write_cassette(path: Path, eval_file: str, exchanges: Sequence[Exchange]) -> None:
    """Write ``exchanges`` (in the order given) to ``path``, replacing it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"cassette": FORMAT, "eval_file": eval_file}
    lines = [json.dumps(header, ensure_ascii=False)]
    lines += [json.dumps(e.as_json(), ensure_ascii=False) for e in exchanges]
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    temporary.replace(path)


__all__ = [
    "FORMAT",
    "CassetteError",
    "Exchange",
    "as_chunks",
    "as_completion",
    "chunks_json",
    "completion_json",
    "make_request",
    "read_cassette",
    "request_key",
    "scrub",
    "write_cassette",
]
