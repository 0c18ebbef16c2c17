"""Keys and modules of levers that never won on validation and were removed (issue 39).

Their record (grids, verdicts, how to rerun them) is the "Removed levers" table of
docs/tuning.md. A config may still hold such a key at its default, which is what every older
config and checkpoint carries; any other value stops the run with the grid and the commit that
still has the code, instead of being silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

# The last commit that holds the removed levers' code.
LAST_COMMIT = "5224e6d"
RECORD = "docs/tuning.md#removed-levers"


@dataclass(frozen=True)
class RemovedLever:
    default: Any
    grids: str
    added: str  # the commit that added it
    module: str | None = None  # MIND's submodule that held its weights, if any


REMOVED_LEVERS: dict[str, RemovedLever] = {
    "recency_embedding": RemovedLever(False, "grids 10-13", "233efde", "recency_embedding"),
    "routing_recency_prior": RemovedLever(False, "grids 10-13", "233efde", "routing_prior"),
    "short_term_attention": RemovedLever(False, "grid 29", "d079470", "short_term_attention"),
    "short_term_order_mlp": RemovedLever(False, "grid 32", "ed66a76", "short_term_order"),
    "routing_gradient": RemovedLever(False, "grid 14", "77a2368"),
    "routing_regularization": RemovedLever(0.0, "grid 17", "82c936a"),
    "future_targets": RemovedLever(0, "grid 20", "707082b"),
    "hard_negative_beta": RemovedLever(0.0, "grids 24-25", "4fad3c2"),
}


def _is_default(value: Any, default: Any) -> bool:
    # None: the key is absent. A string is never the default (YAML's "False" would equal nothing).
    return value is None or (not isinstance(value, str) and value == default)


def removed_lever_message(key: str, value: Any, source: str = "") -> str:
    lever = REMOVED_LEVERS[key]
    where = f"{source}: " if source else ""
    return (
        f"{where}{key}: {value!r} sets a lever that was removed because it never won on validation "
        f"({lever.grids}, {RECORD}); only its default {lever.default!r} is accepted. To rerun it, "
        f"check out commit {LAST_COMMIT} (added in {lever.added})"
    )


def check_removed_keys(values: Mapping[str, Any], source: str = "") -> None:
    """Raise ``ValueError`` if ``values`` sets a removed lever to anything but its default.

    ``source`` (a file, ``the command line``) starts the message; empty for a merged config.
    """
    for key in REMOVED_LEVERS:
        value = values[key] if key in values else None
        if not _is_default(value, REMOVED_LEVERS[key].default):
            raise ValueError(removed_lever_message(key, value, source))


def check_removed_weights(parameter_names: Iterable[str], source: str) -> None:
    """Raise ``ValueError`` if a state dict holds weights of a removed lever's module."""
    parameter_names = list(parameter_names)
    for key, lever in REMOVED_LEVERS.items():
        if lever.module is None:
            continue
        held = [name for name in parameter_names if name.split(".", 1)[0] == lever.module]
        if held:
            raise ValueError(
                f"{source} holds weights of {key} ({held[0]}, ...), a lever that was removed because it "
                f"never won on validation ({lever.grids}, {RECORD}); load it with commit {LAST_COMMIT}"
            )
