"""Template autolog: copy ``integrations/_template`` to start a new integration (see README.md).

This docstring is the integration's user documentation: say what one call logs, and when.
For the template's stand-in framework (a ``template`` module with ``Model.fit``), an
outermost ``Model.fit`` logs into the active run, or into a run it starts and ends:

- params: the model's ``get_params()`` (values cut to the param limit, conflicting keys
  of a user's run skipped) and the ``fit`` keywords; tags ``estimator_name``/``estimator_class``;
- metrics: ``train_score`` at the end of training, from the native callback;
- the model (``log_models``) with the ``template`` flavour.

Knobs (``autolog(template={...})``): none besides the common ones. Supported: template >= 1.0.
"""

from __future__ import annotations

from logwright.autolog import AutologConfig, Integration, Patch

TYPE_CHECKING = False
if TYPE_CHECKING:  # autolog() loads this class at start-up: keep its imports light
    from collections.abc import Sequence
    from typing import Any

__all__ = ["LogwrightTemplateCallback", "TemplateIntegration"]


class TemplateIntegration(Integration):
    """Autolog for the template framework (>= 1.0): each ``Model.fit`` is one run.

    What is logged, and when, is in this module's docstring.
    """

    name = "template"  # == the entry-point name
    module = "template"  # the import that triggers patching
    requirement = "template>=1.0"  # the floor, declared once (nox's min session reads it)
    tested_up_to = "1.1"
    defaults: dict[str, Any] = {}  # your knobs, e.g. {"log_every_n": 1}: autolog(template={"log_every_n": 5})

    def patches(self, config: AutologConfig) -> Sequence[Patch]:
        """What to wrap; each Patch is applied when its own module is imported."""
        from logwright_template._hooks import make_fit_wrapper

        return [Patch(self.module, "Model.fit", make_fit_wrapper(self))]


def __getattr__(name: str) -> Any:
    if name == "LogwrightTemplateCallback":  # importing it needs the framework: load on first use
        from logwright_template._hooks import LogwrightTemplateCallback

        return LogwrightTemplateCallback
    raise AttributeError(name)
