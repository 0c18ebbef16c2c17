"""Targeted shims that let RecBole 1.2.1 run on today's numpy, torch and setuptools.

``install()`` runs once on ``import recbole_mind``. It first checks that the installed RecBole
is the release these shims were written for (1.2.1), and stops naming both versions if not:
on another release the functions they wrap may have changed. It changes nothing in numpy or torch by
itself: each shim wraps one RecBole function and acts only while RecBole's own code runs,
so code that never touches RecBole sees numpy, torch and ``sys.modules`` unchanged. One
exception: the numpy aliases below, once set, stay set (see there). Every name patched here is
recorded in ``recbole_mind.integration.boundary`` (docs/compatibility.md's table). Each shim
fixes one measured breakage (docs/compatibility.md); breakages that a version pin fixes
honestly are pinned in setup.py instead (pandas < 3).

- numpy 2 removed ``np.float_``, ``np.complex_``, ``np.unicode_`` and ``np.bool8``.
  RecBole's ``Config.compatibility_settings`` reads the first three on every run (and itself
  sets ``np.float``, ``np.int``, ... globally); ray, imported by ``recbole.quick_start``,
  reads ``np.bool8``. Before those run we restore the four names as aliases of the very
  dtypes numpy 1 gave them, and leave them set: ray's tune loggers read ``np.bool8`` when they
  are imported, which may be long after ``recbole.quick_start``, and ``compatibility_settings``
  has by then set ``np.float``, ``np.int``, ... for the rest of the process itself.
- torch >= 2.6 loads with ``weights_only=True``, which cannot read RecBole's checkpoints
  (see ``recbole_mind.integration.safe_load``). While RecBole's three checkpoint readers run
  (``Trainer.evaluate``, ``Trainer.resume_checkpoint``, ``load_data_and_model``), their
  ``torch.load`` reads through ``safe_load``'s allowlist unpickler, which runs no code from
  the file; outside them ``torch.load`` is torch's own.
- RecBole's distributed training (``nproc``/``world_size``) always starts NCCL and puts
  each process on ``cuda:<local_rank>``. On a machine without CUDA we start the process
  group with gloo instead, keep every process on the CPU and build
  ``DistributedDataParallel`` without ``device_ids`` (a CPU module takes none); gradient sync
  is RecBole's own.
- RecBole's distributed evaluation counts some users twice (torch's ``DistributedSampler`` pads
  each process's share) and weights the processes' rounded means by their batch counts:
  ``recbole_mind.integration.distributed``'s shims give each user to one process and weight by users.
- ``recbole.quick_start`` imports ray 2.6.3, which imports ``pkg_resources``, removed in
  setuptools 81 (torch 2.13 needs setuptools >= 77, and new environments get >= 81). While
  that one import runs, and only if no real ``pkg_resources`` exists, a minimal stand-in built
  on ``importlib.metadata`` and ``packaging`` serves the few names ray reads at import time.
- ``recbole/model/sequential_recommender/sine.py`` calls ``torch.autograd.set_detect_anomaly(True)``
  at import, and RecBole's ``get_model`` imports every sequential model's module, SINE's among
  them: any run of SASRec, GRU4Rec or SINE through RecBole then trains in anomaly mode, which
  records a Python stack for every autograd node (slower training: docs/anomaly_mode.json says by
  how much; MIND's registered module never imported it). Once that module has run we put
  anomaly mode back as it was before the import, so it stays the debugging switch the user sets.
- ``Dataset._download`` ends with ``torch.distributed.barrier()`` with or without a process group
  (upstream issues #1989, #2050): every first single-process download failed after writing the
  files. It also blocks on ``input()`` for archives over 1 GB and leaves a half-filled folder
  that blocks every retry when interrupted. It is replaced by ``recbole_mind.data.download``'s,
  which needs no group (under one, the first process downloads and the others wait), checks the
  archive and moves the folder into place only when complete.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

# The one RecBole release whose internals these shims were written against and tested with.
SUPPORTED_RECBOLE_VERSION = "1.2.1"

_NUMPY_ALIASES = {"float_": "float64", "complex_": "complex128", "unicode_": "str_", "bool8": "bool_"}


def restore_numpy_aliases() -> None:
    """Set numpy 1's four aliases numpy 2 removed; they stay set (module docstring says why)."""
    for alias, target in _NUMPY_ALIASES.items():
        if not hasattr(np, alias):
            setattr(np, alias, getattr(np, target))


@contextlib.contextmanager
def safe_torch_load() -> Iterator[None]:
    """``torch.load`` reads through ``safe_load`` (an allowlist unpickler) while in force."""
    from recbole_mind.integration.safe_load import safe_torch_load as load

    original = torch.load
    if original is load:  # nested: already in force
        yield
        return
    torch.load = load
    try:
        yield
    finally:
        torch.load = original


def _with_safe_torch_load(function: Callable) -> Callable:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with safe_torch_load():
            return function(*args, **kwargs)

    wrapper._recbole_mind_shim = True  # type: ignore[attr-defined]
    return wrapper


def _before(function: Callable, first: Callable[[], None]) -> Callable:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        first()
        return function(*args, **kwargs)

    wrapper._recbole_mind_shim = True  # type: ignore[attr-defined]
    return wrapper


def _wrap(owner: Any, name: str, make: Callable[[Callable], Callable]) -> None:
    if not getattr(getattr(owner, name), "_recbole_mind_shim", False):
        setattr(owner, name, make(getattr(owner, name)))


class _DistributionNotFound(Exception):
    pass


def _pkg_resources_stand_in() -> dict[str, types.ModuleType]:
    """The names ray 2.6.3 reads from ``pkg_resources`` while it is imported."""
    import packaging.version

    class Distribution:
        def __init__(self, name: str) -> None:
            try:
                self.version = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError as error:
                raise _DistributionNotFound(name) from error
            self.project_name = name

    root = types.ModuleType("pkg_resources", "recbole-mind's stand-in for ray's imports")
    root.DistributionNotFound = _DistributionNotFound  # type: ignore[attr-defined]
    root.get_distribution = Distribution  # type: ignore[attr-defined]
    root.require = lambda name: [Distribution(name)]  # type: ignore[attr-defined]
    root.packaging = packaging  # type: ignore[attr-defined]
    vendor = types.ModuleType("pkg_resources._vendor")
    vendor.packaging = packaging  # type: ignore[attr-defined]
    root._vendor = vendor  # type: ignore[attr-defined]
    return {
        "pkg_resources": root,
        "pkg_resources._vendor": vendor,
        "pkg_resources._vendor.packaging": packaging,
        "pkg_resources._vendor.packaging.version": packaging.version,
    }


class _WrappingLoader(importlib.abc.Loader):
    """A module's real loader, with something done around its ``exec_module``."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self.loader.create_module(spec)


class _QuickStartLoader(_WrappingLoader):
    """Runs the real ``recbole.quick_start`` loader with ray's needs met, then patches it."""

    def exec_module(self, module: types.ModuleType) -> None:
        restore_numpy_aliases()
        stand_in = {} if importlib.util.find_spec("pkg_resources") else _pkg_resources_stand_in()
        sys.modules.update(stand_in)
        try:
            self.loader.exec_module(module)
        finally:
            for name in stand_in:
                sys.modules.pop(name, None)
        quick_start = sys.modules["recbole.quick_start.quick_start"]
        _wrap(quick_start, "load_data_and_model", _with_safe_torch_load)
        module.load_data_and_model = quick_start.load_data_and_model


class _AnomalyModeKeepingLoader(_WrappingLoader):
    """Runs a module's real loader, then restores torch's anomaly mode as it was before."""

    def exec_module(self, module: types.ModuleType) -> None:
        enabled, check_nan = torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()
        try:
            self.loader.exec_module(module)
        finally:
            torch.autograd.set_detect_anomaly(enabled, check_nan)


# RecBole modules whose import needs a shim, and the loader that wraps their real one.
_PATCHED_IMPORTS: dict[str, type[_WrappingLoader]] = {
    "recbole.quick_start": _QuickStartLoader,
    "recbole.model.sequential_recommender.sine": _AnomalyModeKeepingLoader,
}


class _RecBoleImportFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None):
        if fullname not in _PATCHED_IMPORTS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PATCHED_IMPORTS[fullname](spec.loader)
        return spec


def _cpu_distributed(config: dict[str, Any]) -> bool:
    return "local_rank" in config and not torch.cuda.is_available()


def _init_device_on_cpu(init_device: Callable) -> Callable:
    @functools.wraps(init_device)
    def wrapper(self) -> None:
        config = self.final_config_dict
        if not _cpu_distributed(config):
            return init_device(self)
        config["gpu_id"] = ""
        torch.distributed.init_process_group(
            backend="gloo",
            rank=config["local_rank"] + config["offset"],
            world_size=config["world_size"],
            init_method=f"tcp://{config['ip']}:{config['port']}",
        )
        config["device"] = torch.device("cpu")
        config["single_spec"] = False
        if config["local_rank"] != 0:  # as RecBole: only the first process reports
            config["state"] = "error"
            config["show_progress"] = False
            config["verbose"] = False

    wrapper._recbole_mind_shim = True  # type: ignore[attr-defined]
    return wrapper


def _trainer_init_on_cpu(trainer_init: Callable) -> Callable:
    @functools.wraps(trainer_init)
    def wrapper(self, config, model) -> None:
        if config["single_spec"] or config["device"].type != "cpu":
            return trainer_init(self, config, model)
        self.config = config
        self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.distributed_model = torch.nn.parallel.DistributedDataParallel(self.model)

    wrapper._recbole_mind_shim = True  # type: ignore[attr-defined]
    return wrapper


def _download_without_barrier(download: Callable) -> Callable:
    @functools.wraps(download)
    def wrapper(self) -> None:
        from recbole_mind.data.datasets import fetch_dataset

        fetch_dataset(self.config)

    wrapper._recbole_mind_shim = True  # type: ignore[attr-defined]
    return wrapper


def check_recbole_version() -> None:
    """Refuse a RecBole release other than the one the shims patch: their targets may differ."""
    import recbole

    found = getattr(recbole, "__version__", "unknown")
    if found != SUPPORTED_RECBOLE_VERSION:
        raise ImportError(
            f"recbole-mind supports RecBole {SUPPORTED_RECBOLE_VERSION} only (its compat layer patches "
            f"that release's internals), but RecBole {found} is installed: "
            f"pip install recbole=={SUPPORTED_RECBOLE_VERSION}"
        )


def install() -> None:
    """Check the RecBole version, then install every shim into RecBole; safe to call more than once."""
    check_recbole_version()
    from recbole.config import Config
    from recbole.data.dataset import Dataset
    from recbole.trainer import Trainer
    from recbole.trainer.trainer import AbstractTrainer

    _wrap(Config, "compatibility_settings", lambda function: _before(function, restore_numpy_aliases))
    _wrap(Config, "_init_device", _init_device_on_cpu)
    _wrap(AbstractTrainer, "__init__", _trainer_init_on_cpu)
    _wrap(Trainer, "evaluate", _with_safe_torch_load)
    _wrap(Trainer, "resume_checkpoint", _with_safe_torch_load)
    _wrap(Dataset, "_download", _download_without_barrier)
    if "recbole.quick_start" in sys.modules:  # imported before us (it needed pkg_resources)
        quick_start = sys.modules["recbole.quick_start.quick_start"]
        _wrap(quick_start, "load_data_and_model", _with_safe_torch_load)
        sys.modules["recbole.quick_start"].load_data_and_model = quick_start.load_data_and_model
    # A SINE module imported before us has already switched anomaly mode on; whether the user
    # also did cannot be told apart, so that case is left as it is.
    if not any(isinstance(finder, _RecBoleImportFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RecBoleImportFinder())
    # distributed evaluation: each user on one process, processes weighted by their users
    from recbole.data.dataloader.abstract_dataloader import AbstractDataLoader
    from recbole.evaluator.evaluator import Evaluator

    from recbole_mind.integration.distributed import (
        evaluate_unrounded_under_a_group, evaluation_loader_unpadded, map_reduce_by_users,
    )

    _wrap(AbstractDataLoader, "__init__", evaluation_loader_unpadded)
    _wrap(Evaluator, "evaluate", evaluate_unrounded_under_a_group)
    _wrap(Trainer, "_map_reduce", map_reduce_by_users)
