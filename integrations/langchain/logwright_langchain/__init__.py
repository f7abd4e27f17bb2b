"""LangChain autolog: every top-level Runnable call becomes one logwright trace.

``logwright.autolog()`` registers :class:`LogwrightCallbackHandler` with
langchain-core's own configure hook (``register_configure_hook``), the extension
point LangChain's tracers use: every callback manager LangChain configures gets the
handler as an inheritable handler unless one is present already. That one place
covers ``invoke``/``ainvoke``, ``batch``/``abatch`` (one trace per input),
``stream``/``astream``/``astream_events``, tools, retrievers and legacy entry points,
with no wrapper around any LangChain method, so nested runnables cost nothing extra.

What is recorded is described on :class:`LogwrightCallbackHandler`; no run is started
(traces link to the active run when there is one). ``autolog(log_traces=False)``
turns tracing off without disabling. Supported: langchain-core 0.3 and newer
(LangGraph works through the same callbacks).
"""

from __future__ import annotations

from collections.abc import Sequence

from logwright.autolog import AutologConfig, Integration, Patch
from logwright.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from logwright_langchain._callback import LogwrightCallbackHandler

_logger = get_logger(__name__)

__all__ = ["LangChainIntegration", "LogwrightCallbackHandler"]


class _HandlerSlot:
    """What langchain-core's configure hook reads (``.get()``, like a ContextVar).

    A plain object rather than a ContextVar so every thread and task sees the handler;
    it answers None while autolog is off or ``log_traces`` is False.
    """

    __slots__ = ("handler", "config")

    def __init__(self) -> None:
        self.handler: Any = None
        self.config: AutologConfig | None = None

    def get(self) -> Any:
        """The handler to add, or None."""
        cfg = self.config
        if cfg is None or not cfg.options.get("log_traces", True):
            return None
        return self.handler


class LangChainIntegration(Integration):
    """Traces LangChain (langchain-core >= 0.3) through a callback handler.

    Every Runnable call outside another LangChain run starts a trace; chains, prompts,
    output parsers, chat models, LLMs, tools, retrievers and agents inside it are spans
    with their inputs, outputs, model parameters, token usage, streaming first-token
    time and errors. The handler is installed through langchain-core's configure hook
    when the integration is enabled and removed when it is disabled; no LangChain
    method is patched.
    """

    name = "langchain"
    module = "langchain_core"
    requirement = "langchain-core>=0.3"
    tested_up_to = "1.8"
    defaults: dict[str, Any] = {}

    def __init__(self) -> None:
        super().__init__()
        self._slot = _HandlerSlot()

    def patches(self, config: AutologConfig) -> Sequence[Patch]:
        """None: the handler goes in through :meth:`on_enable`."""
        return []

    def on_enable(self, config: AutologConfig) -> None:
        """Register the handler with langchain-core's configure hook."""
        from langchain_core.tracers.context import _configure_hooks, register_configure_hook

        from logwright_langchain._callback import LogwrightCallbackHandler

        slot = self._slot
        slot.config = self.config
        if slot.handler is None:
            slot.handler = LogwrightCallbackHandler()
        if not any(hook[0] is slot for hook in _configure_hooks):
            # Not inheritable: every callback manager LangChain configures gets it again, so it
            # never shows in a child's config["callbacks"] (what user code and merge_configs see).
            register_configure_hook(slot, False, LogwrightCallbackHandler)  # type: ignore[arg-type]

    def on_disable(self) -> None:
        """Remove the hook again, leaving langchain-core's hook list as it was."""
        from langchain_core.tracers.context import _configure_hooks

        slot = self._slot
        slot.config = None
        _configure_hooks[:] = [hook for hook in _configure_hooks if hook[0] is not slot]


def __getattr__(name: str) -> Any:
    # The handler subclasses a langchain-core class: import it only when asked for,
    # so loading the Integration never imports LangChain.
    if name == "LogwrightCallbackHandler":
        from logwright_langchain._callback import LogwrightCallbackHandler

        return LogwrightCallbackHandler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
