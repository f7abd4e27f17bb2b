"""A small sample store to try the UI on (``python -m logwright.server.sample DIR``).

It holds nested runs with params, metric curves (one long enough to be
downsampled), system metrics, artifacts of every previewable kind, a model card
and GenAI traces with a chat model span. Some names and values carry HTML and
``<script>`` on purpose, so the UI's escaping can be checked against it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import logwright
from logwright.client import Client

HOSTILE = "<script>window.__pwned=1</script>"
HOSTILE_IMG = '<img src=x onerror="window.__pwned=2">'
# A 2x2 PNG (red, green / blue, white).
_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)



@contextlib.contextmanager
def serve(uri: str, allowed_hosts: Sequence[str] | None = None) -> Iterator[str]:
    """Serve the UI for store ``uri`` on a free 127.0.0.1 port in a thread; yields its URL.

    Args:
        uri: the store.
        allowed_hosts: passed to :func:`~logwright.server.app.create_app`.
    """
    from logwright.server.app import create_app
    from logwright.testing.serve import serve_app

    with serve_app(create_app(uri, allowed_hosts)) as url:
        yield url


def _curves(client: Client, run_id: str, lr: float, points: int, t0: int) -> None:
    for step in range(points):
        loss = 2.0 * math.exp(-step * lr / 10) + 0.05 * math.sin(step / 3)
        client.log_metrics(run_id, {"loss": loss, "accuracy": 1 - loss / 2.5}, step=step, timestamp=t0 + step * 50)
    for step in range(20):
        client.log_metrics(run_id, {"system/cpu_percent": 40 + 30 * math.sin(step / 4),
                                    "system/memory_mb": 900 + step * 3}, step=step, timestamp=t0 + step * 1000)


def _artifacts(client: Client, run_id: str) -> None:
    client.log_text(run_id, "epoch 1: loss 0.9\nepoch 2: loss 0.5\n" + HOSTILE + "\n", "logs/train.log")
    client.log_dict(run_id, {"layers": [64, 32], "note": HOSTILE}, "config.json")
    client.log_text(run_id, "name,score\nalice,0.91\n" + HOSTILE_IMG + ",0.5\n", "results.csv")
    client.artifacts(run_id).write_bytes("plots/confusion.png", _PNG)
    client.log_text(run_id, "x", f"weird/{HOSTILE_IMG.replace('/', '_')}.txt")
    repo = client.artifacts(run_id)
    model = {
        "flavour": "sklearn", "run_id": run_id, "artifact_path": "model", "python_version": "3.11.9",
        "sklearn_version": "1.5.0", "logwright_version": logwright.__version__,
        "signature": {"inputs": {"type": "dataframe", "columns": [{"name": "x", "type": "float64"}]},
                      "outputs": {"type": "tensor", "dtype": "int64", "shape": [-1]}},
        "requirements": ["scikit-learn==1.5.0", "numpy>=1.26"],
    }
    repo.write_bytes("model/MODEL.json", json.dumps(model, indent=2).encode())
    repo.write_bytes("model/model.skops", b"\x00binary")


def _traces(run_id: str) -> None:
    from logwright.tracing import flush_spans, start_detached_span, start_span, use_span

    for i in range(3):
        root = start_detached_span(f"answer-question-{i}", kind="CHAIN", run_id=run_id,
                                   inputs={"question": "What is 2+2? " + HOSTILE})
        with use_span(root):
            with start_span("retrieve", kind="RETRIEVER", inputs={"query": "2+2"}) as ret:
                time.sleep(0.002)
                ret.set_outputs([{"page_content": "2+2=4", "metadata": {"source": "math.txt"}}])
            messages = [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "What is 2+2? " + HOSTILE},
            ]
            attrs = {"gen_ai.request.model": "fake-gpt", "gen_ai.usage.input_tokens": 12,
                     "gen_ai.usage.output_tokens": 3}
            with start_span("chat", kind="CHAT_MODEL", inputs={"messages": messages}, attributes=attrs) as chat:
                time.sleep(0.003)
                chat.add_event("first_token", {"latency_ms": 1.5})
                chat.set_outputs({"role": "assistant", "content": "4"})
            with start_span("format", kind="PARSER", inputs="4"):
                pass
        root.end(outputs={"answer": "4"})
    flush_spans()


def populate(uri: str, long_points: int = 5000) -> dict[str, Any]:
    """Fill the store at ``uri`` (and make it the tracking URI); returns the ids created.

    Returns:
        ``experiment_id``, ``parent`` (a run id), ``children`` (run ids), ``runs``
        (every run id), ``long_run`` (the run whose ``loss`` has ``long_points``
        points) and ``hostile_run``.
    """
    logwright.set_tracking_uri(uri)
    client = Client(uri)
    exp = client.create_experiment("sample-experiment")
    t0 = int(time.time() * 1000) - 3_600_000
    parent = client.create_run(exp, start_time=t0, run_name="sweep", description="A learning-rate sweep.")
    children = []
    for i, lr in enumerate((0.1, 0.3, 1.0)):
        child = client.create_run(exp, run_name=f"lr-{lr}", parent_run_id=parent.info.run_id, start_time=t0 + 1000 * (i + 1))
        client.log_params(child.info.run_id, {"lr": lr, "optimizer": "adam" if i else "sgd", "layers": 2})
        _curves(client, child.info.run_id, lr, 40, t0)
        client.set_terminated(child.info.run_id, "FINISHED" if i < 2 else "FAILED", end_time=t0 + 60_000 * (i + 1))
        children.append(child.info.run_id)
    client.set_terminated(parent.info.run_id, end_time=t0 + 200_000)
    hostile = client.create_run(exp, run_name="hostile " + HOSTILE, tags={"note": HOSTILE, "html": HOSTILE_IMG},
                                start_time=t0 + 300_000, description=HOSTILE)
    hid = hostile.info.run_id
    client.log_params(hid, {"payload": HOSTILE, "lr": 0.01, HOSTILE_IMG.replace("/", "_"): "key is html"})
    _curves(client, hid, 0.05, 30, t0)
    client.log_metric(hid, "loss_nan", float("nan"), step=0)
    client.log_metric(hid, "loss_nan", float("inf"), step=1)
    for step in range(long_points):
        client.log_metric(hid, "long", math.sin(step / 200) + (3 if step == long_points // 3 else 0), step=step,
                          timestamp=t0 + step)
    _artifacts(client, hid)
    running = client.create_run(exp, run_name="still-running", start_time=int(time.time() * 1000) - 5000)
    client.log_params(running.info.run_id, {"lr": 0.5, "optimizer": "adam"})
    client.log_metric(running.info.run_id, "loss", 0.7, step=0)
    client.flush()
    _traces(hid)
    client.set_terminated(hid, end_time=t0 + 420_000)
    return {
        "experiment_id": str(exp), "parent": parent.info.run_id, "children": children,
        "hostile_run": hid, "long_run": hid, "running": running.info.run_id,
        "runs": [parent.info.run_id, *children, hid, running.info.run_id],
    }


if __name__ == "__main__":
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.abspath("logwright-sample")
    print(json.dumps(populate(folder), indent=2))
