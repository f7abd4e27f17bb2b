"""What a span is called on the wire: OpenInference and OpenTelemetry GenAI attributes.

Locally a span keeps logwright's kind (CHAT_MODEL, PARSER, ...) and the attributes
the integrations recorded. For OTLP export, :func:`wire_attributes` derives from them
the attributes two conventions define, so that Phoenix, Langfuse, Jaeger or any
OpenTelemetry backend shows model calls, messages, tokens, tools and documents:

- OpenInference: ``openinference.span.kind`` (LLM, CHAIN, TOOL, ...), flattened
  ``llm.input_messages.N.message.*``, ``llm.output_messages.*``, ``llm.tools.N.*``,
  ``llm.token_count.*``, ``llm.model_name``, ``llm.prompt_template.*``,
  ``retrieval.documents.N.document.*``, ``tool.*``, ``session.id``, ``user.id``,
  ``metadata``, ``tag.tags``, ``input.value``/``output.value``.
- OpenTelemetry GenAI: ``gen_ai.operation.name``, ``gen_ai.provider.name``,
  ``gen_ai.input.messages``/``gen_ai.output.messages``/``gen_ai.system_instructions``/
  ``gen_ai.tool.definitions``/``gen_ai.retrieval.documents`` (JSON strings),
  ``gen_ai.tool.call.arguments``/``result``; model calls are SpanKind CLIENT.

Runs only in the exporter's thread; pure functions over plain values.
"""

from __future__ import annotations

import json
import logging
from typing import Any

_logger = logging.getLogger(__name__)

INTERNAL, CLIENT = 1, 3  # opentelemetry.proto Span.SpanKind values

#: logwright kind -> (OpenInference kind, gen_ai.operation.name or None, OTLP span kind)
KINDS: dict[str, tuple[str, str | None, int]] = {
    "CHAT_MODEL": ("LLM", "chat", CLIENT),
    "LLM": ("LLM", "chat", CLIENT),
    "EMBEDDING": ("EMBEDDING", "embeddings", CLIENT),
    "TOOL": ("TOOL", "execute_tool", INTERNAL),
    "AGENT": ("AGENT", "invoke_agent", INTERNAL),
    "RETRIEVER": ("RETRIEVER", "retrieval", INTERNAL),
    "CHAIN": ("CHAIN", None, INTERNAL),
    "PARSER": ("CHAIN", None, INTERNAL),
    "PROMPT": ("PROMPT", None, INTERNAL),
    "RERANKER": ("RERANKER", None, INTERNAL),
    "GUARDRAIL": ("GUARDRAIL", None, INTERNAL),
    "EVALUATOR": ("EVALUATOR", None, INTERNAL),
    "UNKNOWN": ("UNKNOWN", None, INTERNAL),
}
_PROVIDERS = {"azure": "azure.ai.openai", "azure_openai": "azure.ai.openai", "bedrock": "aws.bedrock",
              "amazon_bedrock": "aws.bedrock", "google_genai": "gcp.gemini", "gemini": "gcp.gemini",
              "vertexai": "gcp.vertex_ai", "vertex_ai": "gcp.vertex_ai", "google_vertexai": "gcp.vertex_ai",
              "mistralai": "mistral_ai", "mistral": "mistral_ai", "xai": "x_ai"}
_SESSION_KEYS = ("session_id", "session.id", "thread_id", "conversation_id")
_USER_KEYS = ("user_id", "user.id")
_MAX_ITEMS = 128  # flattened list items per attribute family (messages, documents, tools)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _text(value: Any) -> str:
    return value if type(value) is str else _json(value)


def provider_name(value: Any) -> str:
    """A provider as ``gen_ai.provider.name`` spells it (``azure`` -> ``azure.ai.openai``)."""
    text = str(value).strip().lower()
    return _PROVIDERS.get(text, text)


def _content_text(content: Any) -> str:
    if type(content) is str:
        return content
    if isinstance(content, list):
        texts = [p.get("text") or p.get("content") or "" for p in content if isinstance(p, dict)]
        if len(texts) == len(content):
            return "".join(str(t) for t in texts)
    return _text(content)


def _tool_calls(msg: dict) -> list[tuple[Any, Any, Any]]:
    """(id, name, arguments) of a message's tool calls, LangChain's or OpenAI's shape."""
    out = []
    for call in msg.get("tool_calls") or ():
        if not isinstance(call, dict):
            continue
        fn = call.get("function") if isinstance(call.get("function"), dict) else {}
        args = call.get("args", fn.get("arguments"))
        out.append((call.get("id"), call.get("name") or fn.get("name"), args))
    return out


def normalize_messages(value: Any, default_role: str = "user") -> list[dict] | None:
    """Messages as dicts with at least ``role`` and ``content`` (a prompt string is one message)."""
    if value is None:
        return None
    if type(value) is str:
        return [{"role": default_role, "content": value}]
    if isinstance(value, dict):
        if "role" in value or "content" in value:
            return [value]
        text = value.get("text")
        return [{"role": default_role, "content": text, **value}] if text is not None else None
    if isinstance(value, (list, tuple)) and value:  # a short list of strings is kept as a tuple
        if isinstance(value[0], (list, tuple)):  # a batch: the first conversation
            return normalize_messages(value[0], default_role)
        out = []
        for item in value[:_MAX_ITEMS]:
            found = normalize_messages(item, default_role)
            if found:
                out.extend(found)
        return out or None
    return None


def _oi_messages(prefix: str, messages: list[dict], attrs: dict[str, Any]) -> None:
    for i, msg in enumerate(messages[:_MAX_ITEMS]):
        base = f"{prefix}.{i}.message"
        attrs[f"{base}.role"] = str(msg.get("role") or "user")
        content = msg.get("content")
        if content not in (None, ""):
            attrs[f"{base}.content"] = _content_text(content)
        if msg.get("name"):
            attrs[f"{base}.name"] = str(msg["name"])
        if msg.get("tool_call_id"):
            attrs[f"{base}.tool_call_id"] = str(msg["tool_call_id"])
        for j, (call_id, name, args) in enumerate(_tool_calls(msg)):
            call = f"{base}.tool_calls.{j}.tool_call"
            if call_id:
                attrs[f"{call}.id"] = str(call_id)
            attrs[f"{call}.function.name"] = str(name)
            attrs[f"{call}.function.arguments"] = _text(args if args is not None else {})


def _parts(msg: dict) -> list[dict]:
    parts: list[dict] = []
    content = msg.get("content")
    if msg.get("role") == "tool" and msg.get("tool_call_id"):
        return [{"type": "tool_call_response", "id": msg["tool_call_id"], "response": content}]
    if content not in (None, ""):
        parts.append({"type": "text", "content": _content_text(content)})
    for call_id, name, args in _tool_calls(msg):
        if type(args) is str:
            try:
                args = json.loads(args)
            except ValueError:
                pass
        parts.append({"type": "tool_call", "id": call_id, "name": name, "arguments": args})
    return parts


def _genai_messages(messages: list[dict], output: bool, finish: Any = None) -> list[dict]:
    out = []
    for msg in messages[:_MAX_ITEMS]:
        item: dict[str, Any] = {"role": str(msg.get("role") or ("assistant" if output else "user")),
                                "parts": _parts(msg)}
        if msg.get("name"):
            item["name"] = msg["name"]
        if output:
            item["finish_reason"] = finish or ("tool_call" if _tool_calls(msg) else "stop")
        out.append(item)
    return out


def _first(attrs: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return value
    return None


def _model(attrs: dict[str, Any], out: dict[str, Any]) -> None:
    model = _first(attrs, "gen_ai.response.model", "gen_ai.request.model")
    if model:
        out["llm.model_name"] = str(model)
        if "/" in str(model) and not _first(attrs, "gen_ai.provider.name", "gen_ai.system"):
            out["gen_ai.provider.name"] = provider_name(str(model).split("/", 1)[0])
    provider = _first(attrs, "gen_ai.provider.name", "gen_ai.system")
    if provider:
        out["gen_ai.provider.name"] = provider_name(provider)
    if out.get("gen_ai.provider.name"):
        out["llm.provider"] = out["gen_ai.provider.name"].split(".")[0]
    tokens = (("gen_ai.usage.input_tokens", "llm.token_count.prompt"),
              ("gen_ai.usage.output_tokens", "llm.token_count.completion"),
              ("logwright.usage.total_tokens", "llm.token_count.total"))
    for src, dst in tokens:
        if type(attrs.get(src)) is int:
            out[dst] = attrs[src]
    if "llm.token_count.total" not in out and "llm.token_count.prompt" in out:
        out["llm.token_count.total"] = out["llm.token_count.prompt"] + out.get("llm.token_count.completion", 0)
    if isinstance(attrs.get("logwright.usage.cost"), (int, float)):
        out["llm.cost.total"] = float(attrs["logwright.usage.cost"])
    params = _first(attrs, "langchain.invocation_params", "dspy.lm.kwargs")
    if isinstance(params, dict):
        out["llm.invocation_parameters"] = _json({k: v for k, v in params.items() if k != "tools"})
        _tools(params.get("tools"), out)


def _tools(tools: Any, out: dict[str, Any]) -> None:
    if not isinstance(tools, list) or not tools:
        return
    definitions = []
    for i, tool in enumerate(tools[:_MAX_ITEMS]):
        out[f"llm.tools.{i}.tool.json_schema"] = _text(tool)
        if isinstance(tool, dict):
            fn = tool.get("function") if isinstance(tool.get("function"), dict) else tool
            definitions.append({"type": tool.get("type", "function"), "name": fn.get("name"),
                                "description": fn.get("description"), "parameters": fn.get("parameters")})
    if definitions:
        out["gen_ai.tool.definitions"] = _json(definitions)


def _model_io(inputs: Any, outputs: Any, attrs: dict[str, Any], out: dict[str, Any]) -> None:
    messages = normalize_messages(inputs)
    if messages:
        _oi_messages("llm.input_messages", messages, out)
        out["gen_ai.input.messages"] = _json(_genai_messages(messages, False))
        system = [{"type": "text", "content": _content_text(m.get("content"))}
                  for m in messages if m.get("role") == "system"]
        if system:
            out["gen_ai.system_instructions"] = _json(system)
    if type(inputs) is str or (isinstance(inputs, (list, tuple)) and inputs and all(type(p) is str for p in inputs)):
        out["gen_ai.operation.name"] = "text_completion"
    replies = normalize_messages(outputs, "assistant")
    if replies:
        _oi_messages("llm.output_messages", replies, out)
        reasons = attrs.get("gen_ai.response.finish_reasons")
        finish = reasons[0] if isinstance(reasons, (list, tuple)) and reasons else None
        out["gen_ai.output.messages"] = _json(_genai_messages(replies, True, finish))


def _documents(outputs: Any, out: dict[str, Any]) -> None:
    docs = outputs.get("passages") or outputs.get("documents") if isinstance(outputs, dict) else outputs
    if not isinstance(docs, (list, tuple)):
        return
    wire = []
    for i, doc in enumerate(docs[:_MAX_ITEMS]):
        base = f"retrieval.documents.{i}.document"
        if isinstance(doc, dict):
            content = doc.get("page_content", doc.get("content", doc.get("long_text")))
            meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
            doc_id = doc.get("id", meta.get("id"))
            score = _first(doc, "score", "relevance_score")
            if score is None:
                score = _first(meta, "score", "relevance_score")
        else:
            content, meta, doc_id, score = doc, {}, None, None
        item: dict[str, Any] = {}
        if content is not None:
            out[f"{base}.content"] = item["content"] = _text(content)
        if doc_id is not None:
            out[f"{base}.id"] = item["id"] = str(doc_id)
        if isinstance(score, (int, float)) and type(score) is not bool:
            out[f"{base}.score"] = item["score"] = float(score)
        if meta:
            out[f"{base}.metadata"] = _json(meta)
            item["metadata"] = meta
        wire.append(item)
    if wire:
        out["gen_ai.retrieval.documents"] = _json(wire)


def _tool(name: str, inputs: Any, outputs: Any, attrs: dict[str, Any], out: dict[str, Any]) -> None:
    tool_name = _first(attrs, "gen_ai.tool.name") or name
    out["gen_ai.tool.name"] = out["tool.name"] = str(tool_name)
    description = _first(attrs, "gen_ai.tool.description")
    if description:
        out["tool.description"] = str(description)
    schema = attrs.get("logwright.tool.parameters")
    if schema is not None:
        out["tool.parameters"] = _text(schema)
    if inputs is not None:
        out["gen_ai.tool.call.arguments"] = _text(inputs)
    if outputs is not None:
        out["gen_ai.tool.call.result"] = _text(outputs)
    out.setdefault("gen_ai.tool.type", "function")


def _prompt(inputs: Any, attrs: dict[str, Any], out: dict[str, Any]) -> None:
    template = attrs.get("logwright.prompt.template")
    if template is not None:
        out["llm.prompt_template.template"] = _text(template)
    if isinstance(inputs, dict):
        out["llm.prompt_template.variables"] = _json(inputs)


def _context(attrs: dict[str, Any], tags: dict[str, Any] | None, out: dict[str, Any]) -> None:
    meta = _first(attrs, "langchain.metadata", "logwright.metadata")
    sources = [m for m in (meta, tags) if isinstance(m, dict)]
    for source in sources:
        session = _first(source, *_SESSION_KEYS)
        if session is not None:
            out["session.id"] = out["gen_ai.conversation.id"] = str(session)
        user = _first(source, *_USER_KEYS)
        if user is not None:
            out["user.id"] = str(user)
    if isinstance(meta, dict) and meta:
        out["metadata"] = _json(meta)
    span_tags = attrs.get("langchain.tags")
    if isinstance(span_tags, (list, tuple)) and span_tags:
        out["tag.tags"] = [str(t) for t in span_tags]


def wire_attributes(kind: str, name: str, attrs: dict[str, Any], inputs: Any, outputs: Any,
                    trace_tags: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """The exported span kind and the convention attributes derived from one span.

    Args:
        kind: the span's logwright kind.
        name: the span's name.
        attrs: the attributes recorded on the span (left as they are; not in the result).
        inputs: the span's inputs, decoded from JSON.
        outputs: the span's outputs, decoded from JSON.
        trace_tags: the trace's tags, given for the root span only.

    Returns:
        (OTLP ``Span.SpanKind`` number, attributes to add).
    """
    oi_kind, operation, span_kind = KINDS.get(kind, (kind if kind.isupper() else "UNKNOWN", None, INTERNAL))
    out: dict[str, Any] = {"openinference.span.kind": oi_kind}
    if operation:
        out["gen_ai.operation.name"] = operation
    if oi_kind in ("LLM", "EMBEDDING"):
        _model(attrs, out)
        if oi_kind == "LLM":
            _model_io(inputs, outputs, attrs, out)
        elif out.get("llm.model_name"):
            out["embedding.model_name"] = out["llm.model_name"]
    elif oi_kind == "RETRIEVER":
        _documents(outputs, out)
    elif oi_kind == "TOOL":
        _tool(name, inputs, outputs, attrs, out)
    elif oi_kind == "AGENT":
        out["gen_ai.agent.name"] = name
    elif kind == "PROMPT":
        _prompt(inputs, attrs, out)
    _context(attrs, trace_tags, out)
    return span_kind, out
