"""Which charts a run page (or the compare page) draws, from the metric keys and their lengths.

Keys are grouped by their prefix (``train/``, ``val/``, ``system/``, ``early_stopping/`` ...).
Stage prefixes (``train``, ``val``, ``test`` ..., followed by ``/`` or ``_``) form one section
in which the stages of the same name share a chart: ``train/loss`` and ``val/loss``, or
Lightning's ``train_loss_step``, ``train_loss_epoch`` and ``val_loss``, are overlaid.
A metric with a single point is a value, not a chart (nor a lone dot in another's chart).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from logwright.store.base import Store

_STAGES = {"train": 0, "training": 0, "val": 1, "valid": 1, "validation": 1, "eval": 1, "test": 2}
_LIGHTNING_SUFFIX = re.compile(r"[_/](step|epoch)$")
_SYSTEM = "system"
EPOCH_KEY = "epoch"


def _split(key: str) -> tuple[str, str, int | None]:
    """(section, chart name, stage rank or None) of one metric key."""
    for sep in ("/", "_"):
        head, _, rest = key.partition(sep)
        if rest and head.lower() in _STAGES:
            return "", _LIGHTNING_SUFFIX.sub("", rest) or rest, _STAGES[head.lower()]
    head, _, rest = key.partition("/")
    return (head, key, None) if rest else ("", key, None)


def _section_order(name: str) -> tuple[int, str]:
    return (2, name) if name == _SYSTEM else (1 if name else 0, name)


def layout(keys: Sequence[str], counts: Mapping[str, int], overlay_stages: bool = True) -> dict[str, Any]:
    """The chart sections of a page and the metrics shown as single values.

    Args:
        keys: the metric keys.
        counts: points per key (a key absent or with one point is a single value).
        overlay_stages: draw ``train``/``val``/``test`` of the same name in one chart
            (the run page); False gives one chart per key (the compare page, which
            overlays runs instead).

    Returns:
        ``sections``: a list of ``{"name", "charts": [{"title", "keys"}]}`` (a chart of one
        key is titled by the key, an overlay by the shared name; the stage
        section first, named ``""``; then ungrouped keys, named ``"metrics"``; then each
        prefix; ``system`` last) and ``values``: keys with a single point, sorted.
    """
    sections: dict[str, dict[str, list[tuple[int, str]]]] = {}
    for key in keys:
        if key == EPOCH_KEY:
            continue  # the x axis "epoch" draws it; its latest value is in the metrics table
        section, name, stage = _split(key)
        if stage is None:
            section, name = section or "metrics", key
        elif not overlay_stages:
            section, name = "", key
        sections.setdefault(section, {}).setdefault(name, []).append((stage or 0, key))
    out, values = [], []
    for section in sorted(sections, key=_section_order):
        charts = []
        for name, members in sorted(sections[section].items()):
            members.sort()
            values += [k for _, k in members if counts.get(k, 0) <= 1]
            curves = [k for _, k in members if counts.get(k, 0) > 1]
            if curves:
                charts.append({"title": name if len(curves) > 1 else curves[0], "keys": curves})
        if charts:
            out.append({"name": section, "charts": charts})
    return {"sections": out, "values": sorted(values)}


def point_counts(store: Store, run_id: str, keys: Sequence[str]) -> dict[str, int]:
    """How many points each of a run's metrics has (``keys`` absent from the store count 0).

    Args:
        store: the store.
        run_id: the run.
        keys: the metric keys to count.

    Returns:
        ``{key: number of points}``.
    """
    counts = store.get_metric_counts(run_id)
    return {key: counts.get(key, 0) for key in keys}
