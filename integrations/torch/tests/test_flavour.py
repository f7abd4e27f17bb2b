"""The pytorch model flavour: log_model / load_model round trips and MODEL.json."""

from __future__ import annotations

import json
import os

import pytest
import torch
from torch import nn

import logwright
from logwright.models import model_path, read_model_metadata


class TinyNet(nn.Module):
    """A module with constructor arguments, for the "class" serialization."""

    def __init__(self, n_in: int = 20, hidden: int = 8, n_out: int = 2) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(0.5), nn.Linear(hidden, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class DataDependent(nn.Module):
    """A data-dependent branch: torch.export refuses it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if float(x.sum()) > 0 else x


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))


def _expected(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(x)


def test_pickle_round_trip_eval_mode_same_outputs(tmp_store):
    model, x = _mlp(), torch.randn(5, 20)
    with logwright.start_run():
        info = logwright.log_model(model, "model", input_example=x)
    assert model.training, "log_model must restore the module's train mode"
    loaded = logwright.load_model(info.model_uri)
    assert not loaded.training
    assert all(not m.training for m in loaded.modules())
    with torch.no_grad():
        assert torch.equal(loaded(x), _expected(model, x))
    meta = read_model_metadata(info.model_uri)
    assert meta["flavour"] == "pytorch"
    assert meta["serialization"] == "pickle"
    assert meta["framework"] == "torch"
    assert meta["requirements"] == [f"torch=={torch.__version__.split('+')[0]}"]
    assert meta["num_params"] == 20 * 16 + 16 + 16 * 2 + 2
    assert meta["signature"]["inputs"] == {"type": "tensor", "dtype": "torch.float32", "shape": [-1, 20]}
    assert meta["signature"]["outputs"] == {"type": "tensor", "dtype": "torch.float32", "shape": [-1, 2]}
    folder = model_path(info.model_uri)
    assert {"state_dict.pt", "model.pt", "MODEL.json", "input_example.json"} <= set(os.listdir(folder))
    with open(os.path.join(folder, "input_example.json")) as fh:
        assert len(json.load(fh)) == 5


def test_state_dict_is_always_readable_with_weights_only(tmp_store):
    model = _mlp()
    with logwright.start_run():
        info = logwright.log_model(model)
    state = torch.load(os.path.join(model_path(info.model_uri), "state_dict.pt"), weights_only=True)
    assert set(state) == set(model.state_dict())


def test_class_serialization_with_init_args(tmp_store):
    torch.manual_seed(1)
    model, x = TinyNet(hidden=12), torch.randn(3, 20)
    with logwright.start_run():
        info = logwright.log_model(model, "net", input_example=x, init_args={"hidden": 12})
    meta = read_model_metadata(info.model_uri)
    assert meta["serialization"] == "class"
    assert meta["model_class"].endswith(":TinyNet")
    assert not os.path.exists(os.path.join(model_path(info.model_uri), "model.pt"))
    loaded = logwright.load_model(info.model_uri)
    assert isinstance(loaded, nn.Module) and type(loaded).__name__ == "TinyNet"
    assert not loaded.training
    with torch.no_grad():
        assert torch.equal(loaded(x), _expected(model, x))


def test_class_serialization_needs_init_args(tmp_store):
    with logwright.start_run(), pytest.raises(ValueError, match="init_args"):
        logwright.log_model(_mlp(), serialization="class")


def test_export_round_trip(tmp_store):
    model, x = _mlp(), torch.randn(4, 20)
    with logwright.start_run():
        info = logwright.log_model(model, input_example=x, serialization="export")
    meta = read_model_metadata(info.model_uri)
    assert meta["serialization"] == "export"
    loaded = logwright.load_model(info.model_uri)
    with torch.no_grad():
        assert torch.allclose(loaded(x), _expected(model, x))


def test_export_failure_falls_back_to_pickle(tmp_store):
    with logwright.start_run():
        info = logwright.log_model(DataDependent(), input_example=torch.ones(2, 3), serialization="export")
    meta = read_model_metadata(info.model_uri)
    assert meta["serialization"] == "pickle"
    assert meta["export_error"]


def test_can_log_only_modules():
    from logwright_torch.flavour import PytorchFlavour

    flavour = PytorchFlavour()
    assert flavour.can_log(_mlp()) and flavour.can_log(TinyNet())
    assert not flavour.can_log(torch.zeros(2)) and not flavour.can_log(object())


def test_unknown_serialization_rejected(tmp_store):
    with logwright.start_run(), pytest.raises(ValueError, match="serialization"):
        logwright.log_model(_mlp(), serialization="onnx")


def test_model_failing_on_the_example_is_still_saved(tmp_store):
    with logwright.start_run():
        info = logwright.log_model(_mlp(), input_example=torch.randn(3, 7))  # wrong width
    meta = read_model_metadata(info.model_uri)
    assert meta["signature"]["inputs"]["shape"] == [-1, 7]
    assert meta["signature"]["outputs"] is None
    assert isinstance(logwright.load_model(info.model_uri), nn.Sequential)
