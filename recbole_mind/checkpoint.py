"""Reading RecBole checkpoints on torch >= 2.6.

RecBole's trainer saves ``{"config": Config, "state_dict": ..., "other_parameter": ...,
"optimizer": ..., "epoch": ...}`` with pickle protocol 4. torch >= 2.6 loads with
``weights_only=True`` by default, whose restricted unpickler rejects both the pickled
``Config`` and protocol 4's FRAME opcode, so no allowlist of safe globals can make such a file
load. We therefore read checkpoints with ``weights_only=False``, which unpickles arbitrary
objects: only load checkpoints you wrote yourself or otherwise trust.
"""

from __future__ import annotations

import os
from typing import Any

import torch


def load_checkpoint(path: str, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a RecBole checkpoint written by RecBole's trainer (a trusted file)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint not found: {path}")
    return torch.load(path, map_location=map_location, weights_only=False)


def restore_model(model: torch.nn.Module, checkpoint: dict[str, Any]) -> None:
    """Put a checkpoint's weights into ``model``, as RecBole's ``evaluate`` does."""
    model.load_state_dict(checkpoint["state_dict"])
    model.load_other_parameter(checkpoint.get("other_parameter"))
