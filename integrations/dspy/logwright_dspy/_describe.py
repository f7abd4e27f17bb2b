"""What is recorded about DSPy objects: span kinds, signatures, LM usage, optimizer settings.

Pure functions over DSPy objects, read by duck typing (attribute names), so they never
import DSPy and work across its versions. What is the same on every call of a module
or model (kind, class, signature, settings) is worked out once and cached.
"""

from __future__ import annotations

import logging
from typing import Any

from logwright.tracing import frozen_attributes

_logger = logging.getLogger(__name__)

_SIMPLE = (str, int, float, bool, type(None))
_AGENTS = frozenset({"ReAct", "CodeAct", "ProgramOfThought", "Avatar", "RLM"})
_PLAIN = frozenset({dict, list, tuple, str, int, float, bool, type(None)})
_module_cache: dict[tuple[type, Any, int], tuple[str, str, Any]] = {}  # (class, signature, demos) -> info
_lm_cache: dict[tuple, tuple[str, Any]] = {}  # (class, model, type, settings, call settings) -> info
_adapter_cache: dict[tuple[int, int | None], Any] = {}
_classes: dict[type, tuple[str, str]] = {}  # module class -> (span kind, qualified name)
_class_attrs: dict[tuple[type, str], bool] = {}  # (class, name) -> a class attribute could answer it
_HISTORY_LOOKBACK = 32
_own_dict = object.__getattribute__
_REQUEST = {"temperature": "temperature", "max_tokens": "max_tokens", "top_p": "top_p", "n": "choice.count"}


def module_kind(instance: Any) -> str:
    """AGENT for ReAct-like modules, RETRIEVER for retrievers, else CHAIN (``Predict`` included)."""
    return _class_info(type(instance))[0]


def _class_info(cls: type) -> tuple[str, str]:
    """(span kind, ``module.QualName``) of a module class, worked out on first sight."""
    found = _classes.get(cls)
    if found is None:
        names = {klass.__name__ for klass in cls.__mro__}
        kind = "AGENT" if names & _AGENTS else "RETRIEVER" if "Retrieve" in names else "CHAIN"
        if len(_classes) > 4096:
            _classes.clear()
        found = _classes[cls] = (kind, f"{cls.__module__}.{cls.__qualname__}")
    return found


def _fields(obj: Any) -> dict[str, Any]:
    """The instance's own attributes, read past ``Module.__getattribute__`` (Python code on every read)."""
    try:
        found = _own_dict(obj, "__dict__")
    except AttributeError:
        return {}
    return found if type(found) is dict else {}


def module_inputs(inputs: dict[str, Any]) -> Any:
    """``{"args": (...), "kwargs": {...}}`` from DSPy, shown as the keyword arguments."""
    args, kwargs = inputs.get("args") or (), inputs.get("kwargs") or {}
    if not args:
        return kwargs
    return {"args": list(args), **kwargs}


def payload(value: Any) -> Any:
    """A Prediction/Example as its fields; anything else as it is.

    Fields that are all primitives are the Example's own ``_store`` (what ``toDict``
    would copy); the span copies them when it records them.
    """
    if type(value) in _PLAIN:
        return value
    to_dict = getattr(type(value), "toDict", None)
    if to_dict is None or not callable(to_dict):
        return value
    store = _fields(value).get("_store")
    if type(store) is dict:
        for item in store.values():
            if type(item) not in _SIMPLE:
                break
        else:
            return store
    try:
        return value.toDict()
    except Exception:  # noqa: BLE001 - fall back to the object (serialized safely later)
        return value


def _signature(instance: Any) -> Any:
    own = _fields(instance)
    sig = own.get("signature")
    if sig is None and "signature" not in own:
        sig = getattr(instance, "signature", None) if _class_has(type(instance), "signature") else None
    if sig is None:
        inner = own.get("predict")
        if inner is None and _class_has(type(instance), "predict"):
            inner = getattr(instance, "predict", None)
        if inner is not None:
            sig = _fields(inner).get("signature") or getattr(inner, "signature", None)
    return sig


def _class_has(cls: type, name: str) -> bool:
    key = (cls, name)
    found = _class_attrs.get(key)
    if found is None:
        found = _class_attrs[key] = any(name in vars(klass) for klass in cls.__mro__) or \
            hasattr(cls, "__getattr__")
    return found


def module_info(instance: Any) -> tuple[str, str, Any]:
    """(span kind, span name, attributes) of a module call, worked out once per class, signature and demo count.

    The attributes are the module's class and signature (instructions, input and
    output field names) and its number of demos, as :func:`~logwright.tracing.frozen_attributes`
    that every span of that module shares (a signature's ``input_fields`` is rebuilt by
    DSPy on every read, so reading it once matters).
    """
    cls = type(instance)
    sig = _signature(instance)
    demos = _fields(instance).get("demos")
    key = (cls, sig, len(demos) if demos else 0)
    try:
        found = _module_cache.get(key)
    except TypeError:  # an unhashable signature object
        key, found = None, None
    if found is None:
        kind = _class_info(cls)[0]
        found = (kind, cls.__name__, frozen_attributes(module_attributes(instance)))
        if key is not None:
            if len(_module_cache) > 4096:
                _module_cache.clear()
            _module_cache[key] = found
    return found


def module_attributes(instance: Any) -> dict[str, Any]:
    """The module's class and signature (instructions, input and output field names), and its demo count."""
    attrs: dict[str, Any] = {"dspy.module": _class_info(type(instance))[1]}
    sig = _signature(instance)
    if sig is not None and hasattr(sig, "input_fields"):
        attrs["dspy.signature"] = str(getattr(sig, "signature", ""))
        attrs["dspy.signature.instructions"] = str(getattr(sig, "instructions", "") or "")
        attrs["dspy.signature.input_fields"] = list(sig.input_fields)
        attrs["dspy.signature.output_fields"] = list(sig.output_fields)
    demos = _fields(instance).get("demos")
    if demos:
        attrs["dspy.demos"] = len(demos)
    return attrs


def lm_info(instance: Any, call_kwargs: dict[str, Any] | None) -> tuple[str, Any]:
    """(span kind, attributes) of an LM call, worked out once per model and request parameters."""
    kwargs = getattr(instance, "kwargs", None)
    try:
        key = (type(instance), getattr(instance, "model", None), getattr(instance, "model_type", None),
               tuple(kwargs.items()) if type(kwargs) is dict else None,
               tuple(call_kwargs.items()) if call_kwargs else None)
        found = _lm_cache.get(key)
    except TypeError:  # a parameter value that cannot be hashed (a list of stop words)
        key, found = None, None
    if found is None:
        kind = "LLM" if getattr(instance, "model_type", "chat") == "text" else "CHAT_MODEL"
        found = (kind, frozen_attributes(lm_attributes(instance, call_kwargs)))
        if key is not None:
            if len(_lm_cache) > 4096:
                _lm_cache.clear()
            _lm_cache[key] = found
    return found


def adapter_attributes(demos: int, messages: int | None) -> Any:
    """The attributes of an adapter ``format`` span: demos in, messages out (shared per pair of counts)."""
    key = (demos, messages)
    found = _adapter_cache.get(key)
    if found is None:
        attrs: dict[str, Any] = {"dspy.adapter.demos": demos}
        if messages is not None:
            attrs["dspy.adapter.messages"] = messages
        found = frozen_attributes(attrs)
        if len(_adapter_cache) < 1024:
            _adapter_cache[key] = found
    return found


def lm_attributes(instance: Any, call_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """The model and request parameters (the LM's defaults overridden by the call's)."""
    model = str(getattr(instance, "model", "") or "")
    attrs: dict[str, Any] = {"gen_ai.request.model": model}
    if "/" in model:  # LiteLLM's "provider/model"
        attrs["gen_ai.provider.name"] = model.split("/", 1)[0]
    params = {**(getattr(instance, "kwargs", None) or {}), **(call_kwargs or {})}
    for key, name in _REQUEST.items():
        value = params.get(key)
        if type(value) in (int, float):
            attrs[f"gen_ai.request.{name}"] = value
    stop = params.get("stop")
    if stop:
        attrs["gen_ai.request.stop_sequences"] = [stop] if type(stop) is str else [str(s) for s in stop]
    simple = {k: v for k, v in params.items() if type(v) in _SIMPLE and not k.startswith("api_")}
    if simple:
        attrs["dspy.lm.kwargs"] = simple
    model_type = getattr(instance, "model_type", None)
    if model_type:
        attrs["dspy.lm.model_type"] = str(model_type)
    return attrs


def _history_entry(instance: Any, inputs: dict[str, Any]) -> dict[str, Any] | None:
    history = getattr(instance, "history", None)
    if not history:
        return None
    messages, prompt = inputs.get("messages"), inputs.get("prompt")
    for entry in reversed(history[-_HISTORY_LOOKBACK:]):
        if type(entry) is dict and entry.get("messages") is messages and entry.get("prompt") is prompt:
            return entry
    return None


def lm_usage(instance: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Token usage, cost, response model and cache hit of one LM call (from the LM's history)."""
    entry = _history_entry(instance, inputs)
    if entry is None:
        return {}
    attrs: dict[str, Any] = {}
    usage = entry.get("usage") or {}
    for src, dst in (("prompt_tokens", "gen_ai.usage.input_tokens"),
                     ("completion_tokens", "gen_ai.usage.output_tokens"),
                     ("total_tokens", "logwright.usage.total_tokens")):
        value = usage.get(src)
        if type(value) is int:
            attrs[dst] = value
    cost = entry.get("cost")
    if type(cost) in (int, float):
        attrs["logwright.usage.cost"] = cost
    model = entry.get("response_model")
    if model:
        attrs["gen_ai.response.model"] = str(model)
    response = entry.get("response")
    hit = getattr(response, "cache_hit", None)
    attrs["dspy.lm.cache_hit"] = bool(hit)
    return attrs


def callable_name(fn: Any) -> str | None:
    """A function's name, or its class's name for a callable object."""
    if fn is None:
        return None
    name = getattr(fn, "__name__", None)
    return str(name) if name else type(fn).__name__


def optimizer_params(instance: Any) -> dict[str, Any]:
    """The optimizer's class and its simple settings (numbers, strings, flags, metric name)."""
    params: dict[str, Any] = {"optimizer": type(instance).__name__}
    for key, value in sorted(vars(instance).items()):
        if key.startswith("_") or key in ("trainset", "valset", "student", "teacher"):
            continue
        if key == "metric":
            params["metric"] = callable_name(value)
        elif type(value) in _SIMPLE and value is not None:
            params[key] = value
        elif type(value) is dict and all(type(v) in _SIMPLE for v in value.values()) and len(value) <= 20:
            for sub, v in value.items():
                if v is not None:
                    params[f"{key}.{sub}"] = v
    return {k: (str(v)[:6000] if type(v) is str else v) for k, v in params.items()}


def demo_count(program: Any) -> int | None:
    """Total number of few-shot demos across the program's predictors."""
    predictors = getattr(program, "predictors", None)
    if predictors is None:
        return None
    try:
        return sum(len(getattr(p, "demos", None) or ()) for p in predictors())
    except Exception:  # noqa: BLE001 - a program that cannot list its predictors
        return None


def compile_scores(program: Any) -> tuple[list[float], dict[int, dict[str, float]], float | None]:
    """(candidate scores best first, per-trial scores, best score) an optimizer left on the program."""
    candidates = []
    for cand in getattr(program, "candidate_programs", None) or ():
        score = cand.get("score") if isinstance(cand, dict) else None
        if isinstance(score, (int, float)):
            candidates.append(float(score))
    trials: dict[int, dict[str, float]] = {}
    logs = getattr(program, "trial_logs", None)
    if isinstance(logs, dict):
        for num, log in logs.items():
            if isinstance(num, int) and isinstance(log, dict):
                found = {k: float(v) for k, v in log.items()
                         if k in ("full_eval_score", "mb_score") and isinstance(v, (int, float))}
                if found:
                    trials[num] = found
    best = getattr(program, "score", None)
    if not isinstance(best, (int, float)):
        best = max(candidates) if candidates else None
    return candidates, trials, (float(best) if best is not None else None)


def example_row(example: Any, prediction: Any, score: Any, trace_id: str | None) -> dict[str, Any]:
    """One row of the evaluation table: inputs, expected labels, prediction, score, trace."""
    inputs = example.inputs() if hasattr(example, "inputs") else example
    labels = example.labels() if hasattr(example, "labels") else {}
    return {
        "inputs": payload(inputs),
        "labels": payload(labels),
        "prediction": payload(prediction),
        "score": score if type(score) in _SIMPLE else repr(score),
        "trace_id": trace_id,
    }
