"""Targeted shims that let RecBole 1.2.1 run on today's numpy and torch.

Applied by our entry points only (``run_recbole_mind``, the CLI), never at import time, so
code that imports ``recbole_mind`` without calling them sees numpy and torch unchanged.
Each shim fixes one measured breakage (README, 'Compatibility'); breakages that a version
pin fixes honestly are pinned in setup.py instead (pandas < 3).

- numpy 2 removed ``np.float_``, ``np.complex_`` and ``np.unicode_``; RecBole's
  ``Config.compatibility_settings`` reads them on every run. We restore those three names as
  aliases of the very dtypes numpy 1 gave them (``float64``, ``complex128``, ``str_``).
- torch >= 2.6 loads checkpoints with ``weights_only=True``, which cannot read RecBole's
  checkpoints: we load them ourselves, see ``recbole_mind.checkpoint``, instead of changing
  ``torch.load`` for everybody.
"""

from __future__ import annotations

import numpy as np

_NUMPY_ALIASES = {"float_": "float64", "complex_": "complex128", "unicode_": "str_"}


def restore_numpy_aliases() -> None:
    for alias, target in _NUMPY_ALIASES.items():
        if not hasattr(np, alias):
            setattr(np, alias, getattr(np, target))


def apply() -> None:
    """Apply every shim; safe to call more than once."""
    restore_numpy_aliases()
