"""The inverse of :mod:`logwright.tracing.semconv`: an incoming OTLP span's attributes as logwright fields.

OTLP ingest (``POST /v1/traces`` on ``logwright server``) receives spans from any
OpenTelemetry-instrumented app. :func:`span_fields` reads the conventions back:

- kind: ``logwright.span.kind`` (a span logwright exported), else OpenInference's
  ``openinference.span.kind``, else the GenAI ``gen_ai.operation.name`` (:data:`OPERATIONS`),
  else ``LLM`` for a CLIENT span naming a model, else ``UNKNOWN``;
- inputs / outputs: ``input.value`` / ``output.value`` (parsed when their mime type is
  ``application/json``), else the GenAI messages (``gen_ai.input.messages`` /
  ``gen_ai.output.messages``), OpenInference's flattened ``llm.input_messages.N.message.*`` /
  ``llm.output_messages.*``, the older ``gen_ai.prompt.N.*`` / ``gen_ai.completion.N.*``,
  a tool's ``gen_ai.tool.call.arguments`` / ``result``, a retriever's
  ``retrieval.documents.N.document.*``;
- tokens and model: ``gen_ai.usage.input_tokens`` / ``output_tokens`` (else the older
  ``gen_ai.usage.prompt_tokens`` / ``completion_tokens``, else ``llm.token_count.*``),
  ``gen_ai.request.model`` (else ``llm.model_name``), ``gen_ai.provider.name`` (else
  ``llm.provider``).

Spans from other apps keep every attribute as sent, except those that became the
kind, inputs and outputs (``openinference.span.kind``, ``input.*``, ``output.*``); the
logwright names above are added beside their sources. A span that logwright itself
exported (scope ``logwright``) comes back as it was recorded: the attributes
:func:`~logwright.tracing.semconv.wire_attributes` derived for the wire (OpenInference
duplicates of the messages, model and tokens, ``gen_ai.operation.name``, ...) are
dropped when deriving them again gives the value received, and the JSON text the export
made of dicts and lists is parsed back.

Pure functions over plain values; no opentelemetry import.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from logwright.tracing.semconv import CLIENT, wire_attributes

_logger = logging.getLogger(__name__)

#: OpenInference span kinds, as logwright keeps them.
OI_KINDS = frozenset({"LLM", "CHAIN", "TOOL", "RETRIEVER", "EMBEDDING", "AGENT", "PROMPT",
                      "RERANKER", "GUARDRAIL", "EVALUATOR", "UNKNOWN"})
#: ``gen_ai.operation.name`` -> logwright kind, for spans without an OpenInference kind.
OPERATIONS = {"chat": "CHAT_MODEL", "text_completion": "LLM", "generate_content": "LLM",
              "embeddings": "EMBEDDING", "execute_tool": "TOOL", "invoke_agent": "AGENT",
              "create_agent": "AGENT", "retrieval": "RETRIEVER"}
#: logwright attribute <- the attributes it is read from, first found wins.
TOKEN_SOURCES = (
    ("gen_ai.usage.input_tokens", ("gen_ai.usage.prompt_tokens", "llm.token_count.prompt")),
    ("gen_ai.usage.output_tokens", ("gen_ai.usage.completion_tokens", "llm.token_count.completion")),
)
#: Attributes consumed into logwright's own fields, never stored as attributes.
CONSUMED = frozenset({"logwright.span.kind", "openinference.span.kind", "input.value", "input.mime_type",
                      "output.value", "output.mime_type", "logwright.span.late", "logwright.span.name",
                      "logwright.trace.name", "logwright.experiment_id", "logwright.experiment",
                      "logwright.run_id"})
TRACE_TAG_PREFIX = "logwright.trace.tag."
# read by wire_attributes as well as derived by it: dropped only when derived without them too
_SOURCES = frozenset({"gen_ai.provider.name", "gen_ai.tool.name"})
_MAX_KIND = 64
_MESSAGE_FIRST = ("message.role", "message.content", "message.tool_calls.0.tool_call.function.name")
_DOCUMENT_FIRST = ("document.content", "document.id")
_FLAT = re.compile(r"^(\d+)\.(.+)$")


def _json_or_text(value: Any) -> Any:
    if type(value) is not str or value[:1] not in ("{", "["):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def span_kind(attrs: dict[str, Any], otlp_kind: int) -> str:
    """The logwright kind of an incoming span (see the module docstring for the order)."""
    kind = attrs.get("logwright.span.kind")
    if type(kind) is str and kind and len(kind) <= _MAX_KIND:
        return kind
    oi_kind = attrs.get("openinference.span.kind")
    if type(oi_kind) is str and oi_kind.upper() in OI_KINDS:
        return oi_kind.upper()
    found = OPERATIONS.get(str(attrs.get("gen_ai.operation.name") or ""))
    if found:
        return found
    if otlp_kind == CLIENT and (attrs.get("gen_ai.request.model") or attrs.get("llm.model_name")):
        return "LLM"
    return "UNKNOWN"


def _flattened(attrs: dict[str, Any], prefix: str, first: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """``prefix.N.rest`` attributes as a list of ``{rest: value}`` dicts, by N.

    ``first``: ``rest`` names of which item 0 has at least one when the family is there
    at all (flattened lists start at 0), so a span without it is not scanned.
    """
    if first and not any(f"{prefix}.0.{rest}" in attrs for rest in first):
        return []
    items: dict[int, dict[str, Any]] = {}
    start = len(prefix) + 1
    for key, value in attrs.items():
        if key.startswith(prefix) and key[start - 1:start] == ".":
            match = _FLAT.match(key[start:])
            if match:
                items.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [items[i] for i in sorted(items)]


def _oi_message(flat: dict[str, Any]) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": flat.get("message.role") or "user"}
    if "message.content" in flat:
        msg["content"] = flat["message.content"]
    for key in ("name", "tool_call_id"):
        if f"message.{key}" in flat:
            msg[key] = flat[f"message.{key}"]
    calls = _flattened(flat, "message.tool_calls")
    if calls:
        msg["tool_calls"] = [{"id": c.get("tool_call.id"), "name": c.get("tool_call.function.name"),
                              "args": _json_or_text(c.get("tool_call.function.arguments"))} for c in calls]
    msg.setdefault("content", "")
    return msg


def _genai_message(item: Any) -> Any:
    """One GenAI-convention message (``role`` + ``parts``) as a ``{role, content, ...}`` message."""
    if not isinstance(item, dict) or not isinstance(item.get("parts"), list):
        return item
    msg: dict[str, Any] = {"role": item.get("role") or "user"}
    texts, calls = [], []
    for part in item["parts"]:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            texts.append(str(part.get("content", "")))
        elif kind == "tool_call":
            calls.append({"id": part.get("id"), "name": part.get("name"), "args": part.get("arguments")})
        elif kind == "tool_call_response":
            msg["role"], msg["tool_call_id"] = item.get("role") or "tool", part.get("id")
            texts.append(part.get("response") if isinstance(part.get("response"), str)
                         else json.dumps(part.get("response"), ensure_ascii=False))
        else:
            return item  # a part kind we do not model: keep the message as sent
    msg["content"] = "".join(texts)
    if calls:
        msg["tool_calls"] = calls
    if item.get("name"):
        msg["name"] = item["name"]
    return msg


def _messages(attrs: dict[str, Any], genai_key: str, oi_prefix: str, legacy_prefix: str) -> Any:
    raw = _json_or_text(attrs.get(genai_key))
    if isinstance(raw, list) and raw:
        return [_genai_message(m) for m in raw]
    flat = _flattened(attrs, oi_prefix, _MESSAGE_FIRST)
    if flat:
        return [_oi_message(f) for f in flat]
    legacy = _flattened(attrs, legacy_prefix, ("role", "content"))
    if legacy and all("content" in m or "role" in m for m in legacy):
        return [{"role": m.get("role") or "user", "content": m.get("content", "")} for m in legacy]
    return None


def _documents(attrs: dict[str, Any]) -> list[dict[str, Any]] | None:
    docs = _flattened(attrs, "retrieval.documents", _DOCUMENT_FIRST)
    out = []
    for flat in docs:
        doc: dict[str, Any] = {}
        for key in ("content", "id", "score"):
            if f"document.{key}" in flat:
                doc[key] = flat[f"document.{key}"]
        if "document.metadata" in flat:
            doc["metadata"] = _json_or_text(flat["document.metadata"])
        out.append(doc)
    return out or None


def io_value(attrs: dict[str, Any], side: str) -> Any:
    """``input.value`` / ``output.value``: parsed JSON when its mime type says so, else the text."""
    value = attrs.get(f"{side}.value")
    if value is None or attrs.get(f"{side}.mime_type") != "application/json" or type(value) is not str:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def inputs_outputs(kind: str, attrs: dict[str, Any]) -> tuple[Any, Any]:
    """A span's (inputs, outputs) from the first convention that carries them."""
    inputs, outputs = io_value(attrs, "input"), io_value(attrs, "output")
    if inputs is None:
        inputs = _messages(attrs, "gen_ai.input.messages", "llm.input_messages", "gen_ai.prompt")
    if outputs is None:
        outputs = _messages(attrs, "gen_ai.output.messages", "llm.output_messages", "gen_ai.completion")
    if inputs is None and "gen_ai.tool.call.arguments" in attrs:
        inputs = _json_or_text(attrs["gen_ai.tool.call.arguments"])
    if outputs is None and "gen_ai.tool.call.result" in attrs:
        outputs = _json_or_text(attrs["gen_ai.tool.call.result"])
    if outputs is None and kind == "RETRIEVER":
        outputs = _documents(attrs)
    return inputs, outputs


def _int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is str and value.isdigit():
        return int(value)
    return None


def canonical_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    """``attrs`` with logwright's names added where only another convention's are present.

    Tokens (``gen_ai.usage.*``; ``logwright.usage.total_tokens`` only when a total is given
    that is not input + output), model (``gen_ai.request.model``) and provider
    (``gen_ai.provider.name``). The sources stay; :func:`drop_derived` removes those
    the export would derive again.
    """
    out = dict(attrs)
    for target, sources in TOKEN_SOURCES:
        if target not in out:
            for source in sources:
                value = out.get(source)
                found = None if value is None else _int(value)
                if found is not None:
                    out[target] = found
                    break
    total = out.get("llm.token_count.total", out.get("gen_ai.usage.total_tokens"))
    if total is not None and "logwright.usage.total_tokens" not in out:
        total = _int(total)
        tin, tout = _int(out.get("gen_ai.usage.input_tokens")), _int(out.get("gen_ai.usage.output_tokens"))
        if total is not None and (tin is None and tout is None or total != (tin or 0) + (tout or 0)):
            out["logwright.usage.total_tokens"] = total
    if "gen_ai.request.model" not in out and "gen_ai.response.model" not in out and out.get("llm.model_name"):
        out["gen_ai.request.model"] = out["llm.model_name"]
    if "gen_ai.provider.name" not in out and "gen_ai.system" not in out and out.get("llm.provider"):
        out["gen_ai.provider.name"] = out["llm.provider"]
    return out


def drop_derived(kind: str, name: str, received: dict[str, Any], kept: dict[str, Any], inputs: Any,
                 outputs: Any, trace_tags: dict[str, Any] | None) -> dict[str, Any]:
    """``kept`` without the attributes the export would derive again with the received value.

    Args:
        kind: the span's logwright kind.
        name: the span's name.
        received: the attributes as they arrived.
        kept: the attributes to store (received, minus consumed, plus canonical names).
        inputs: the span's inputs.
        outputs: the span's outputs.
        trace_tags: the trace's tags for a root span (the export reads session and user ids there).

    Returns:
        The attributes to store.
    """
    try:
        _, derived = wire_attributes(kind, name, kept, inputs, outputs, trace_tags)
    except Exception as exc:  # noqa: BLE001 - odd values: keep everything rather than fail the span
        _logger.debug("logwright: OTLP ingest keeps every attribute of span %r: %r", name, exc)
        return kept
    for key, value in derived.items():
        if key in kept and received.get(key) == value and (key not in _SOURCES or _rederived(
                key, value, kind, name, kept, inputs, outputs, trace_tags)):
            del kept[key]
    return kept


def _rederived(key: str, value: Any, kind: str, name: str, kept: dict[str, Any], inputs: Any,
               outputs: Any, trace_tags: dict[str, Any] | None) -> bool:
    """True when the export derives ``key`` with ``value`` even without the attribute itself."""
    without = {k: v for k, v in kept.items() if k != key}
    try:
        return wire_attributes(kind, name, without, inputs, outputs, trace_tags)[1].get(key) == value
    except Exception:  # noqa: BLE001 - keep it
        return False


def span_fields(name: str, otlp_kind: int, attrs: dict[str, Any], from_logwright: bool,
                trace_tags: dict[str, Any] | None = None) -> tuple[str, Any, Any, dict[str, Any]]:
    """An incoming span's logwright (kind, inputs, outputs, attributes to store).

    Args:
        name: the span's name (as logwright names it: ``logwright.span.name`` when sent).
        otlp_kind: the OTLP ``Span.SpanKind`` number.
        attrs: the span's attributes as plain values.
        from_logwright: the span was exported by logwright (JSON-looking strings are
            parsed back into the dicts and lists the export encoded, derived attributes dropped).
        trace_tags: the trace's tags, for a root span.

    Returns:
        (kind, inputs, outputs, attributes).
    """
    kind = span_kind(attrs, otlp_kind)
    received = attrs
    if from_logwright:
        attrs = {k: _json_or_text(v) if k not in CONSUMED else v for k, v in attrs.items()}
    inputs, outputs = inputs_outputs(kind, attrs)
    kept = canonical_attributes({k: v for k, v in attrs.items()
                                 if k not in CONSUMED and not k.startswith(TRACE_TAG_PREFIX)})
    if not from_logwright:
        return kind, inputs, outputs, kept
    return kind, inputs, outputs, drop_derived(kind, name, received, kept, inputs, outputs, trace_tags)
