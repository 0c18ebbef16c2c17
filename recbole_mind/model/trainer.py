"""MIND's trainer: RecBole's ``Trainer`` with lazy Adam for a sparse item table.

With ``sparse_item_embedding: True`` (sampled softmax only), the item id table produces sparse
gradients holding only the rows a batch looked up. torch's ``Adam`` cannot take them, and its
dense update over the whole table is what makes a step's cost grow with the catalogue. So
the table gets ``SparseAdam`` (moments and weights of the looked-up rows only, as TensorFlow's
LazyAdam) and every other parameter RecBole's usual ``Adam``. Without sparse parameters this
is exactly RecBole's ``Trainer``.
"""

from __future__ import annotations

from typing import Any

import torch
from recbole.trainer import Trainer
from torch import nn


class SparseAndDenseAdam:
    """``SparseAdam`` for sparse parameters and ``Adam`` for the rest, used as one optimizer."""

    def __init__(self, dense: list[nn.Parameter], sparse: list[nn.Parameter], lr: float) -> None:
        self.optimizers = [torch.optim.Adam(dense, lr=lr), torch.optim.SparseAdam(sparse, lr=lr)]

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [group for optimizer in self.optimizers for group in optimizer.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None) -> None:
        for optimizer in self.optimizers:
            optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        return {"optimizers": [optimizer.state_dict() for optimizer in self.optimizers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "optimizers" not in state:
            raise ValueError(
                "this checkpoint's optimizer state is not from sparse_item_embedding: True; "
                "resume with the setting it was trained with"
            )
        for optimizer, optimizer_state in zip(self.optimizers, state["optimizers"]):
            optimizer.load_state_dict(optimizer_state)


def sparse_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [module.weight for module in model.modules() if isinstance(module, nn.Embedding) and module.sparse]


class MINDTrainer(Trainer):
    """RecBole's ``Trainer``; lazy Adam for sparse item tables (module docstring)."""

    def _build_optimizer(self, **kwargs):
        sparse = sparse_parameters(self.model)
        if not sparse or "params" in kwargs:
            return super()._build_optimizer(**kwargs)
        learner = kwargs.get("learner", self.learner)
        weight_decay = kwargs.get("weight_decay", self.weight_decay)
        if learner.lower() != "adam":
            raise ValueError(f"sparse_item_embedding: True trains with learner: adam, got learner: {learner}")
        if weight_decay:
            raise ValueError(
                f"sparse_item_embedding: True does not support weight_decay (got {weight_decay}): "
                "SparseAdam has none"
            )
        sparse_ids = {id(parameter) for parameter in sparse}
        dense = [p for p in self.model.parameters() if p.requires_grad and id(p) not in sparse_ids]
        return SparseAndDenseAdam(dense, sparse, kwargs.get("learning_rate", self.learning_rate))
