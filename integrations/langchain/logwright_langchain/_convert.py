"""Turn LangChain payloads (messages, generations, documents, usage) into span fields.

Duck-typed on purpose: nothing here imports langchain-core, so the helpers stay cheap
and work across its versions. Each helper returns plain dicts, lists and strings.
"""

from __future__ import annotations

import logging
from typing import Any

_logger = logging.getLogger(__name__)

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool",
          "function": "function", "chat": "user", "AIMessageChunk": "assistant"}
# invocation parameter -> OpenTelemetry GenAI request attribute
_PARAMS = {"temperature": "temperature", "max_tokens": "max_tokens", "top_p": "top_p", "top_k": "top_k",
           "stop": "stop_sequences", "frequency_penalty": "frequency_penalty",
           "presence_penalty": "presence_penalty", "seed": "seed", "n": "choice.count"}
_PARAM_KEYS = tuple((key, f"ls_{key}", f"gen_ai.request.{name}") for key, name in _PARAMS.items())
_TEMPLATE_ROLES = {"SystemMessagePromptTemplate": "system", "HumanMessagePromptTemplate": "user",
                   "AIMessagePromptTemplate": "assistant"}
_MODEL_KEYS = ("model", "model_name", "model_id", "deployment_name")
_templates: dict[int, tuple[Any, str | None]] = {}  # id(serialized) -> (serialized, template text)


def message(msg: Any) -> Any:
    """One chat message as ``{"role", "content", ["name", "tool_calls", "tool_call_id"]}``.

    Args:
        msg: a LangChain ``BaseMessage`` (anything else is returned unchanged).

    Returns:
        A dict in OpenAI-like roles (user, assistant, system, tool).
    """
    # Fields are read from __dict__: a missing attribute on a pydantic model costs an
    # exception, and this runs for every message of every call.
    fields = getattr(msg, "__dict__", None)
    if not fields or "content" not in fields or "type" not in fields:
        return msg
    kind = fields["type"]
    out: dict[str, Any] = {"role": _ROLES.get(kind, kind), "content": fields["content"]}
    if fields.get("name"):
        out["name"] = fields["name"]
    calls = fields.get("tool_calls")
    if calls:
        out["tool_calls"] = [
            {"id": c.get("id"), "name": c.get("name"), "args": c.get("args")} for c in calls
        ]
    if fields.get("tool_call_id"):
        out["tool_call_id"] = fields["tool_call_id"]
    return out


def messages(batch: Any) -> list[Any]:
    """The input messages of one chat-model run (LangChain passes ``[[msg, ...]]`` per run)."""
    if len(batch) == 1:
        return [message(m) for m in batch[0]]
    return [[message(m) for m in group] for group in batch]


def generations(response: Any) -> Any:
    """The output of one LLM/chat-model run: a message dict, a text, or a list of them."""
    outs = []
    for group in getattr(response, "generations", None) or ():
        for gen in group:
            msg = gen.__dict__.get("message")
            outs.append(message(msg) if msg is not None else gen.__dict__.get("text", gen))
    return outs[0] if len(outs) == 1 else outs


def usage(response: Any) -> dict[str, int] | None:
    """Token usage of one run, counted once.

    ``usage_metadata`` on the output messages wins; the provider's ``llm_output``
    (``token_usage`` or ``usage``) is read only when no message carries usage.

    Args:
        response: a LangChain ``LLMResult``.

    Returns:
        ``{"input": n, "output": n, "total": n}``, or None when nothing was reported.
    """
    found = None
    for group in getattr(response, "generations", None) or ():
        for gen in group:
            msg = gen.__dict__.get("message")
            meta = msg.__dict__.get("usage_metadata") if msg is not None else None
            if meta:
                found = found or {"input": 0, "output": 0, "total": 0}
                found["input"] += int(meta.get("input_tokens") or 0)
                found["output"] += int(meta.get("output_tokens") or 0)
                found["total"] += int(meta.get("total_tokens") or 0)
    if found is not None:
        return found
    llm_output = getattr(response, "llm_output", None) or {}
    raw = llm_output.get("token_usage") or llm_output.get("usage") or {}
    if not isinstance(raw, dict) or not raw:
        return None
    inp = raw.get("prompt_tokens", raw.get("input_tokens")) or 0
    out = raw.get("completion_tokens", raw.get("output_tokens")) or 0
    return {"input": int(inp), "output": int(out), "total": int(raw.get("total_tokens") or inp + out)}


def usage_attributes(counts: dict[str, int]) -> dict[str, int]:
    """GenAI attribute names for :func:`usage`'s counts."""
    return {"gen_ai.usage.input_tokens": counts["input"],
            "gen_ai.usage.output_tokens": counts["output"],
            "logwright.usage.total_tokens": counts["total"] or counts["input"] + counts["output"]}


def model_attributes(params: dict[str, Any] | None, metadata: dict[str, Any] | None) -> dict[str, Any]:
    """``gen_ai.request.*`` attributes from a model run's invocation params and metadata."""
    params = params or {}
    metadata = metadata or {}
    attrs: dict[str, Any] = {}
    model = next((params[k] for k in _MODEL_KEYS if params.get(k)), None) or metadata.get("ls_model_name")
    if model:
        attrs["gen_ai.request.model"] = str(model)
    provider = metadata.get("ls_provider") or params.get("_type")
    if provider:
        attrs["gen_ai.provider.name"] = str(provider)
    for key, ls_key, name in _PARAM_KEYS:
        value = params.get(key)
        if value is None:
            value = metadata.get(ls_key)
        if value is not None:
            attrs[name] = [value] if key == "stop" and type(value) is str else value
    return attrs


def finish_reasons(response: Any) -> list[str]:
    """The finish reason of each generation that reports one (``generation_info`` or the message's metadata)."""
    out = []
    for group in getattr(response, "generations", None) or ():
        for gen in group:
            info = gen.__dict__.get("generation_info") or {}
            reason = info.get("finish_reason")
            if reason is None:
                msg = gen.__dict__.get("message")
                meta = msg.__dict__.get("response_metadata") if msg is not None else None
                reason = meta.get("finish_reason") if meta else None
            if reason:
                out.append(str(reason))
    return out


def prompt_template(serialized: Any) -> str | None:
    """A prompt runnable's template text; a chat prompt's messages as ``role: template`` lines.

    LangChain hands the same ``serialized`` dict for every call of one runnable, so the
    text is worked out on first sight and cached by that dict's identity (the cache
    holds the dict, so its id cannot be reused while cached).
    """
    if not serialized:
        return None
    found = _templates.get(id(serialized))
    if found is not None and found[0] is serialized:
        return found[1]
    text = _template_text(serialized)
    if len(_templates) >= 512:
        _templates.clear()
    _templates[id(serialized)] = (serialized, text)
    return text


def _template_text(serialized: Any) -> str | None:
    kwargs = serialized.get("kwargs") or {}
    if isinstance(kwargs.get("template"), str):
        return kwargs["template"]
    lines = []
    for item in kwargs.get("messages") or ():
        if not isinstance(item, dict):
            continue
        ids = item.get("id") or ["message"]
        prompt = (item.get("kwargs") or {}).get("prompt") or {}
        text = (prompt.get("kwargs") or {}).get("template") if isinstance(prompt, dict) else None
        if text is None:
            text = "{" + str((item.get("kwargs") or {}).get("variable_name", ids[-1])) + "}"
        lines.append(f"{_TEMPLATE_ROLES.get(ids[-1], ids[-1])}: {text}")
    return "\n".join(lines) if lines else None


def documents(docs: Any) -> list[Any]:
    """Retrieved documents as ``{"page_content", "metadata"[, "id"]}`` dicts."""
    out = []
    for doc in docs or ():
        content = getattr(doc, "page_content", None)
        if content is None:
            out.append(doc)
            continue
        item = {"page_content": content, "metadata": dict(getattr(doc, "metadata", None) or {})}
        doc_id = getattr(doc, "id", None)
        if doc_id is not None:
            item["id"] = doc_id
        out.append(item)
    return out


def tool_output(output: Any) -> Any:
    """A tool's result; a ``ToolMessage`` becomes its message dict."""
    return message(output)


def run_name(serialized: Any, kwargs: dict[str, Any], default: str) -> str:
    """The name LangChain shows for a run: ``run_name``/``name``, else the serialized class."""
    name = kwargs.get("name")
    if name:
        return str(name)
    if serialized:
        name = serialized.get("name")
        if name:
            return str(name)
        ids = serialized.get("id")
        if ids:
            return str(ids[-1])
    return default
