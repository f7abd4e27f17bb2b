"""Safe serialization of span inputs, outputs and attributes."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json

import numpy as np
import pydantic
import pytest
import torch

import logwright as lw
from logwright import tracing
from logwright.tracing import serialize


@pytest.fixture(autouse=True)
def _fresh(tmp_store):
    tracing._reset_for_tests()
    yield
    tracing._reset_for_tests()


@dataclasses.dataclass
class Doc:
    id: int
    text: str
    tags: list[str]


class Message(pydantic.BaseModel):
    role: str
    content: str


class Color(enum.Enum):
    RED = "red"


class BadRepr:
    def __repr__(self):
        raise RuntimeError("no repr for you")


class Plain:
    def __repr__(self):
        return "<Plain object>"


def _roundtrip(value, limit=serialize.DEFAULT_LIMIT):
    return json.loads(serialize.dumps(value, limit))


def test_structured_values_become_json():
    assert _roundtrip(Doc(1, "a", ["x"])) == {"id": 1, "text": "a", "tags": ["x"]}
    assert _roundtrip(Message(role="user", content="hi")) == {"role": "user", "content": "hi"}
    assert _roundtrip({"when": datetime.date(2024, 1, 2), "c": Color.RED}) == {"when": "2024-01-02", "c": "red"}
    assert _roundtrip({1: {"set": {3}}, (1, 2): b"bytes"}) == {"1": {"set": [3]}, "(1, 2)": "bytes"}
    assert _roundtrip(Plain()) == "<Plain object>"


def test_numpy_and_torch_scalars_and_arrays():
    assert _roundtrip(np.float32(1.5)) == 1.5 and _roundtrip(np.int64(3)) == 3
    assert _roundtrip(np.arange(4).reshape(2, 2)) == [[0, 1], [2, 3]]
    assert _roundtrip(torch.tensor(2.5)) == 2.5
    assert _roundtrip(torch.ones(2, 2, requires_grad=True)) == [[1.0, 1.0], [1.0, 1.0]]
    big = _roundtrip(np.zeros((100, 100)))
    assert big.startswith("<numpy array 100x100") and "float64" in big
    assert _roundtrip(torch.zeros(50, 50)).startswith("<torch array 50x50")


def test_circular_and_unprintable_objects_never_raise():
    loop = [1]
    loop.append(loop)
    assert _roundtrip(loop) == [1, "<circular reference to list>"]
    d = {"a": 1}
    d["self"] = d
    assert _roundtrip(d) == {"a": 1, "self": "<circular reference to dict>"}
    assert _roundtrip(BadRepr()) == "<unprintable BadRepr>"
    shared = [1]
    assert _roundtrip([shared, shared]) == [[1], [1]]  # repeated, not circular
    deep = current = []
    for _ in range(100):
        current.append([])
        current = current[0]
    assert json.loads(serialize.dumps(deep))  # plain JSON: kept as is
    current.append({1, 2})  # not plain JSON: the safe walk caps the depth
    assert "nested deeper" in serialize.dumps(deep)


def test_size_cap_with_marker():
    text = serialize.dumps("x" * 500, limit=100)
    value = json.loads(text)
    assert value.startswith("x" * 100) and serialize.TRUNCATION_MARKER in value and "500" in value
    big = json.loads(serialize.dumps({"rows": list(range(1000))}, limit=200))
    assert isinstance(big, str) and serialize.TRUNCATION_MARKER in big


def test_freeze_keeps_immutable_values_and_snapshots_mutable_ones():
    assert serialize.freeze(3) == 3 and serialize.freeze(("a", 1)) == ("a", 1)
    flat = {"a": 1}
    kept = serialize.freeze(flat)
    assert kept == flat and kept is not flat
    mutable = {"a": [1]}
    frozen = serialize.freeze(mutable)
    mutable["a"].append(2)
    assert isinstance(frozen, serialize.Dumped) and json.loads(frozen) == {"a": [1]}


def test_spans_store_every_kind_of_value_and_snapshot_at_call_time():
    payload = {"docs": [Doc(1, "a", [])]}

    @lw.trace
    def run(message, payload, array, tensor, weird):
        payload["docs"].append("added later")
        return {"message": message, "loop": weird}

    weird = [BadRepr()]
    weird.append(weird)
    run(Message(role="user", content="hi"), payload, np.arange(3), torch.tensor([1.0]), weird)
    with lw.start_span("attrs") as span:
        span.set_attribute("obj", Doc(2, "b", ["t"]))
        span.set_attribute("arr", np.arange(2))
        span.set_inputs("y" * 200_000)
    lw.flush()
    traces = {t.info.name: t.spans[0] for t in lw.search_traces()}
    span = traces["run"]
    assert span.inputs["message"] == {"role": "user", "content": "hi"}
    assert span.inputs["payload"] == {"docs": [{"id": 1, "text": "a", "tags": []}]}
    assert span.inputs["array"] == [0, 1, 2] and span.inputs["tensor"] == [1.0]
    assert span.inputs["weird"] == ["<unprintable BadRepr>", "<circular reference to list>"]
    assert span.outputs["loop"] == span.inputs["weird"]
    attrs = traces["attrs"]
    assert attrs.attributes["obj"] == {"id": 2, "text": "b", "tags": ["t"]}
    assert attrs.attributes["arr"] == [0, 1]
    assert serialize.TRUNCATION_MARKER in attrs.inputs and len(attrs.inputs) < 100_200


def test_field_limit_from_environment(monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_TRACE_FIELD_LIMIT", "50")
    tracing._reset_for_tests()
    with lw.start_span("s", inputs={"text": "z" * 80}):
        pass
    lw.flush()
    inputs = lw.get_last_trace().spans[0].inputs
    assert inputs["text"].startswith("z" * 50) and serialize.TRUNCATION_MARKER in inputs["text"]
