"""The autolog contract suite for the torch integration, and pickling with autolog on."""

from __future__ import annotations

import copy
import pickle

import torch
from torch import nn

import logwright
from logwright.testing.contract import check_contract


def _exercise() -> nn.Module:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        loss = model(torch.ones(5, 4)).pow(2).mean()
        loss.backward()
        opt.step()
    logwright.end_run()  # the user's end of the loop: ends the run autolog started
    return model


def _failing() -> None:
    torch.ones(3).sum().backward()  # the user's own error: no grad_fn


def test_contract(tmp_store):
    check_contract("torch", _exercise, failing=_failing)


def test_pickle_and_deepcopy_with_autolog_on(tmp_store):
    logwright.autolog(only=["torch"])
    try:
        model = _exercise()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for obj in (model, opt.state_dict(), torch.ones(2, requires_grad=True)):
            assert type(pickle.loads(pickle.dumps(obj))) is type(obj)
            assert type(copy.deepcopy(obj)) is type(obj)
    finally:
        logwright.autolog(only=["torch"], disable=True)
