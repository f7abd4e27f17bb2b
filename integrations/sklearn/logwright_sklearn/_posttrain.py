"""Post-training metrics: evaluation after an autologged fit lands in that fit's run.

After a fit that autolog logged, the model is remembered (weakly) with its run.
Its ``predict``/``predict_proba``/``predict_log_proba``/``decision_function``
results are remembered by ``id()`` (weakly, at most ``MAX_TRACKED``), with the
name of the dataset they were computed on. A ``sklearn.metrics`` function given
one of those results, or the model's ``score``, logs ``<metric>_<dataset>`` into
the run: the dataset is the caller's variable name (``X_test``) when it can be
read, else ``eval``; the same key again gets ``-2``, ``-3``...
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

from logwright.lazylog import get_logger
from logwright_sklearn._records import caller_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_logger = get_logger(__name__)

MAX_TRACKED = 256


class _Entry:
    __slots__ = ("ref", "client", "run_id", "dataset")

    def __init__(self, ref: Any, client: Any, run_id: str, dataset: str) -> None:
        self.ref, self.client, self.run_id, self.dataset = ref, client, run_id, dataset


class Tracker:
    """Fitted models and their predictions, by ``id()``, held weakly and bounded."""

    def __init__(self) -> None:
        self._models: OrderedDict[int, _Entry] = OrderedDict()
        self._predictions: OrderedDict[int, _Entry] = OrderedDict()
        self._keys: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget everything (autolog disabled)."""
        with self._lock:
            self._models.clear()
            self._predictions.clear()
            self._keys.clear()

    def _put(self, table: OrderedDict, obj: Any, client: Any, run_id: str, dataset: str) -> None:
        try:
            ref = weakref.ref(obj)
        except TypeError:
            return  # lists and other non-weakrefable results are not tracked
        with self._lock:
            table[id(obj)] = _Entry(ref, client, run_id, dataset)
            table.move_to_end(id(obj))
            while len(table) > MAX_TRACKED:
                table.popitem(last=False)

    def _get(self, table: OrderedDict, obj: Any) -> _Entry | None:
        entry = table.get(id(obj))
        if entry is None or entry.ref() is not obj:
            return None
        return entry

    def add_model(self, model: Any, client: Any, run_id: str) -> None:
        """Remember that ``model`` was fitted into ``run_id``."""
        self._put(self._models, model, client, run_id, "")

    def model_entry(self, model: Any) -> _Entry | None:
        """Where ``model`` was last fitted by autolog (client and run id), or None."""
        return self._get(self._models, model)

    def add_prediction(self, model: Any, result: Any, X: Any) -> None:
        """Remember a prediction of a tracked model and the dataset's name."""
        entry = self._get(self._models, model)
        if entry is not None:
            self._put(self._predictions, result, entry.client, entry.run_id, caller_name(X) or "eval")

    def find_prediction(self, args: tuple, kwargs: dict) -> _Entry | None:
        """The first argument of a metric call that is a tracked prediction."""
        for value in (*args, *kwargs.values()):
            entry = self._get(self._predictions, value)
            if entry is not None:
                return entry
        return None

    def key(self, run_id: str, metric: str, dataset: str) -> str:
        """``<metric>_<dataset>``, numbered ``-2``, ``-3``... when logged before in this run."""
        base = f"{metric}_{dataset}"
        with self._lock:
            seen = self._keys.setdefault(run_id, {})
            n = seen.get(base, 0) + 1
            seen[base] = n
        return base if n == 1 else f"{base}-{n}"


def log_value(tracker: Tracker, entry: _Entry, metric: str, dataset: str, value: Any) -> None:
    """Log a scalar metric result under its post-training key (anything else is ignored)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return
    if hasattr(value, "shape") and getattr(value, "ndim", 0) != 0:
        return
    entry.client.log_metric(entry.run_id, tracker.key(entry.run_id, metric, dataset), number)
