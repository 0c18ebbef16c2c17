"""Memory a run will need, estimated before RecBole allocates it.

An ``embedding_size`` or ``MAX_ITEM_LIST_LENGTH`` of 200000 otherwise ends in an allocator
traceback deep inside RecBole's data augmentation or the model's constructor (or in the
kernel's out-of-memory killer), after the data has been loaded.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from recbole.utils import ModelType

GIB = 2**30
# weights, their gradients and Adam's two moments, in float32
BYTES_PER_PARAMETER = 4 * 4


def available_bytes() -> int | None:
    """Memory the system can still give this process (MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def sequence_bytes(config: Any, dataset: Any) -> int:
    """RecBole's sequential augmentation: one row per interaction holding, for every column of
    the interactions, a history of MAX_ITEM_LIST_LENGTH int64/float64 values (split copies too)."""
    if config["MODEL_TYPE"] != ModelType.SEQUENTIAL or not config["MAX_ITEM_LIST_LENGTH"]:
        return 0
    columns = max(len(dataset.inter_feat.columns) - 1, 1)  # every column but the user's
    return 2 * dataset.inter_num * config["MAX_ITEM_LIST_LENGTH"] * columns * 8


def parameter_count(config: Any, dataset: Any) -> int | None:
    """Parameters of ``config``'s model, counted on torch's meta device (nothing allocated),
    or None when the model cannot be built there."""
    # the random streams are left as they were: the data split that follows draws from them
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            model = config.model_class(config, dataset)
    except Exception:  # a model whose constructor reads tensor values: no estimate
        return None
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    return sum(parameter.numel() for parameter in model.parameters())


def check_memory(config: Any, dataset: Any) -> None:
    """Refuse a run whose data and model would not fit in the memory available, with the estimate."""
    available = available_bytes()
    if available is None:
        return
    parameters = parameter_count(config, dataset) or 0
    parts = {"histories": sequence_bytes(config, dataset), "model and optimizer": parameters * BYTES_PER_PARAMETER}
    needed = sum(parts.values())
    if needed <= available:
        return
    # the key that sizes the larger part
    key = "MAX_ITEM_LIST_LENGTH" if parts["histories"] >= parts["model and optimizer"] else "embedding_size"
    fix = f"lower {key} (now {config[key]})" if key in config and config[key] is not None else "use a smaller model"
    detail = ", ".join(f"{name} {size / GIB:.1f} GiB" for name, size in parts.items())
    raise ValueError(
        f"this run needs about {needed / GIB:.1f} GiB of memory ({detail}; {parameters:,} parameters) and "
        f"{available / GIB:.1f} GiB are available: {fix}, or use fewer interactions"
    )
