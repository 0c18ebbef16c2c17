"""The one way this package reads a ``.pth`` file: an unpickler that cannot run code.

A torch checkpoint is a pickle, and unpickling calls whatever the file names: a file that
names ``os.system`` runs a command as it loads. torch's own ``weights_only`` unpickler cannot
read RecBole's checkpoints (they hold a pickled ``Config``, written with protocol 4), so we
give ``torch.load`` a pickle module of our own (``torch.load(..., pickle_module=...)``). Its
unpickler resolves only an allowlist of globals and refuses every other one *before* anything
is called, with a one-line message naming it:

- callables that only rebuild data (``CALLABLE``): torch's tensor and parameter rebuilders,
  ``torch.device``/``torch.Size``/dtypes, numpy's array, dtype and scalar rebuilders,
  ``collections.OrderedDict``, RecBole's enums;
- classes that may appear as values but are never called (``VALUE_ONLY``), because calling
  them does work: RecBole's ``Config`` (its constructor ``eval``s strings and reads files) is
  rebuilt from its attributes without its constructor, as pickle always rebuilds it, and the
  YAML loader class it keeps is only a reference;
- model classes (a config names its model's class): a subclass of RecBole's
  ``AbstractRecommender`` defined in ``recbole.model`` or in this package, as a value only.

The pure-Python unpickler is used because its opcodes can be checked one by one: calling a
global (``REDUCE``, ``INST``, ``OBJ``) is allowed for ``CALLABLE`` only, and creating an
instance without its constructor (``NEWOBJ``) for allowlisted classes only.
"""

from __future__ import annotations

import importlib
import pickle
import sys
import types
from typing import IO, Any

import torch

# (module, name) of callables that only rebuild data, and may therefore be called.
CALLABLE = frozenset({
    ("collections", "OrderedDict"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "bytearray"),
    ("builtins", "complex"),
    ("builtins", "slice"),
    ("_codecs", "encode"),  # protocol <= 2 writes bytes as _codecs.encode(str, "latin1")
    ("torch", "device"),
    ("torch", "Size"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor_v3"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch._utils", "_rebuild_sparse_tensor"),
    ("torch._utils", "_rebuild_device_tensor_from_numpy"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch.serialization", "_get_layout"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("recbole.utils.enum_type", "ModelType"),
    ("recbole.utils.enum_type", "KGDataLoaderState"),
    ("recbole.utils.enum_type", "EvaluatorType"),
    ("recbole.utils.enum_type", "InputType"),
    ("recbole.utils.enum_type", "FeatureType"),
    ("recbole.utils.enum_type", "FeatureSource"),
})
# Classes that may be named (and, for Config, rebuilt from attributes) but never called.
VALUE_ONLY = frozenset({
    ("recbole.config.configurator", "Config"),
    ("yaml.loader", "FullLoader"),
    ("yaml.loader", "SafeLoader"),
    ("yaml.loader", "Loader"),
    ("numpy", "ndarray"),
    ("torch", "Tensor"),
    ("torch.nn.parameter", "Parameter"),
})
# Rebuilt without their constructor (NEWOBJ), as pickle rebuilds an object it saved by state.
NEW_WITHOUT_INIT = frozenset({("recbole.config.configurator", "Config")})
# Where a checkpoint's model class may come from (a config names it).
MODEL_MODULE_PREFIXES = ("recbole.model.", "recbole_mind.")
# Where classes pickled in older checkpoints live now: the model moved into recbole_mind.model.
MOVED_MODULES = {"recbole_mind.mind": "recbole_mind.model.mind"}


class UnsafeCheckpointError(pickle.UnpicklingError, ValueError):
    """A checkpoint names a global that no checkpoint needs: refused before it ran."""


def _allowed_model_class(module: str, name: str) -> Any:
    """The model class ``module.name`` if it is one, else None (nothing is imported then)."""
    if not module.startswith(MODEL_MODULE_PREFIXES) or not name.isidentifier():
        return None
    from recbole.model.abstract_recommender import AbstractRecommender

    # RecBole's model packages and ours import nothing with side effects worth fearing, but
    # a module name from the file is only imported when it lies inside them.
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    if isinstance(found, type) and issubclass(found, AbstractRecommender):
        return found
    return None


def _resolve(module: str, name: str) -> Any:
    # numpy 2 renamed numpy.core to numpy._core; files written under numpy 1 name the old one
    target = "numpy._core.multiarray" if module == "numpy.core.multiarray" and "numpy._core" in sys.modules else module
    return getattr(importlib.import_module(target), name)


class RestrictedUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """Resolves only allowlisted globals; calls only ``CALLABLE`` ones."""

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._callable_ids: set[int] = set()
        self._new_ids: set[int] = set()

    def find_class(self, module: str, name: str) -> Any:
        module = MOVED_MODULES.get(module, module)
        key = (module, name)
        if key in CALLABLE or key in VALUE_ONLY:
            found = _resolve(module, name)
            if key in CALLABLE:
                self._callable_ids.add(id(found))
            if key in NEW_WITHOUT_INIT:
                self._new_ids.add(id(found))
            return found
        if key[0] == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)  # torch.float32 and the like: values
        model_class = _allowed_model_class(module, name)
        if model_class is not None:
            return model_class
        raise UnsafeCheckpointError(f"{module}.{name}")

    def load_build(self) -> None:
        # BUILD sets attributes on the object below it: never on a class, which would patch it
        # for the whole process (a model class's forward, Config's __getitem__, ...)
        if isinstance(self.stack[-2], type):
            raise UnsafeCheckpointError(f"attributes set on the class {_describe(self.stack[-2])}")
        super().load_build()

    def _check_call(self, function: Any) -> None:
        if id(function) not in self._callable_ids:
            raise UnsafeCheckpointError(f"a call of {_describe(function)}")

    def load_reduce(self) -> None:
        self._check_call(self.stack[-2])
        super().load_reduce()

    def _instantiate(self, klass: Any, args: Any) -> None:  # INST and OBJ
        self._check_call(klass)
        super()._instantiate(klass, args)

    def load_newobj(self) -> None:
        if id(self.stack[-2]) not in self._new_ids | self._callable_ids:
            raise UnsafeCheckpointError(f"an instance of {_describe(self.stack[-2])}")
        super().load_newobj()

    def load_newobj_ex(self) -> None:
        if id(self.stack[-3]) not in self._new_ids | self._callable_ids:
            raise UnsafeCheckpointError(f"an instance of {_describe(self.stack[-3])}")
        super().load_newobj_ex()

    dispatch[pickle.BUILD[0]] = load_build
    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex


def _describe(thing: Any) -> str:
    module, name = getattr(thing, "__module__", None), getattr(thing, "__qualname__", None)
    return f"{module}.{name}" if module and name else type(thing).__name__


def _load(file: IO[bytes], **kwargs: Any) -> Any:
    return RestrictedUnpickler(file, **kwargs).load()


# The pickle module handed to torch.load: our unpickler (torch subclasses it), our load (its
# older, non-zip format reads a few headers with it).
restricted_pickle = types.ModuleType("recbole_mind.integration.safe_load.restricted_pickle", "pickle with an allowlist")
restricted_pickle.Unpickler = RestrictedUnpickler  # type: ignore[attr-defined]
restricted_pickle.load = _load  # type: ignore[attr-defined]
restricted_pickle.UnpicklingError = pickle.UnpicklingError  # type: ignore[attr-defined]


def safe_torch_load(file: Any, map_location: Any = None, **_: Any) -> Any:
    """``torch.load`` through the restricted unpickler (other keyword arguments are ignored:
    ``weights_only`` cannot loosen it).

    Raises:
        UnsafeCheckpointError: the file names a global outside the allowlist; the message names
            it and the file.
    """
    try:
        # torch.serialization.load: compat puts this function in torch.load's place while RecBole reads
        return torch.serialization.load(
            file, map_location=map_location, pickle_module=restricted_pickle, weights_only=False
        )
    except UnsafeCheckpointError as error:
        raise UnsafeCheckpointError(
            f"refused to load {file}: it asks for {error}, which a RecBole checkpoint never holds "
            "(only its config, model class, tensors and numpy arrays load; nothing in it was run)"
        ) from None
