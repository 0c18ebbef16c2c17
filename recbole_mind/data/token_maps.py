"""Checkpoints carry the token <-> id maps of every field their model embeds by id.

RecBole numbers a field's tokens in the order the data first shows them, so the same
interactions in another row order (or with a row added, or other filters) give other internal
ids, and a checkpoint's embedding rows would silently belong to other users and items. A run
(``pipeline.prepare``, ``protocols.multi_target.prepare_multi_target``) records the dataset's
id -> token arrays on its config (:func:`record_token_maps`); RecBole's trainer pickles that
config into every checkpoint it writes, so the maps travel with the weights without a change to
RecBole's checkpoint format. Loading a checkpoint with data (``checkpoint.data_and_model``,
used by serving and export) or resuming from one compares them with the rebuilt dataset's
(:func:`check_token_maps`) and refuses data whose ids differ. Checkpoints written before this,
or by RecBole's own ``run_recbole``, carry no maps: they load unchecked, with one warning.

Besides the user and item ids, the model embeds the token (and token_seq) fields named by
``item_feature_fields`` and ``user_profile_fields``, whose ids RecBole numbers the same way (the
same ``.item`` rows in another order give other genre ids): their maps are recorded and checked
too. Checkpoints written before that carry the user and item maps only, and are checked on those.
"""

from __future__ import annotations

from logging import getLogger
from typing import Any

import numpy as np

# The attribute of RecBole's Config holding the maps (an attribute, not a config key: it is
# neither printed with the config nor read as a setting).
TOKEN_MAPS_ATTRIBUTE = "recbole_mind_token_maps"

_warned: set[str] = set()


# Config keys naming fields the model embeds, and what their fields are called in messages.
FEATURE_KEYS = {"item_feature_fields": "item feature", "user_profile_fields": "user profile"}


def embedded_feature_fields(config) -> dict[str, str]:
    """``{role: field}`` of the fields ``config``'s :data:`FEATURE_KEYS` name, role
    ``"<what>:<field>"`` (e.g. ``"item feature:class"``); keys that are no list name none."""
    fields = {}
    for key, what in FEATURE_KEYS.items():
        names = config[key]
        if isinstance(names, (list, tuple)):
            fields.update({f"{what}:{name}": name for name in names if isinstance(name, str)})
    return fields


def token_maps_of(dataset, feature_fields: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """``{"user": {"field", "tokens"}, "item": {...}, role: {...}}``: the id -> token array of the
    id fields and of those of ``feature_fields`` (:func:`embedded_feature_fields`) that have
    tokens (float fields have none)."""
    roles = {"user": dataset.uid_field, "item": dataset.iid_field, **(feature_fields or {})}
    return {
        role: {"field": field, "tokens": np.array(dataset.field2id_token[field], dtype=str)}
        for role, field in roles.items()
        if field is not None and field in dataset.field2id_token
    }


def record_token_maps(config, dataset) -> None:
    """Attach ``dataset``'s token maps to ``config``, which every checkpoint of the run pickles."""
    setattr(config, TOKEN_MAPS_ATTRIBUTE, token_maps_of(dataset, embedded_feature_fields(config)))


def saved_token_maps(checkpoint: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """The maps a checkpoint was trained with, or None for a checkpoint without them."""
    return getattr(checkpoint["config"], TOKEN_MAPS_ATTRIBUTE, None)


def describe_difference(role: str, saved: np.ndarray, current: np.ndarray) -> str | None:
    """What differs between two id -> token arrays of a field (None: nothing).

    Counts the checkpoint's tokens (padding excluded) that have another id in the data or none,
    and the data's tokens the checkpoint does not know.
    """
    if len(saved) == len(current) and np.array_equal(saved, current):
        return None
    current_ids = {token: index for index, token in enumerate(current)}
    real = range(1, len(saved))  # id 0 is RecBole's padding token
    missing = sum(1 for index in real if saved[index] not in current_ids)
    moved = sum(1 for index in real if current_ids.get(saved[index], index) != index)
    new = len(set(current[1:]) - set(saved[1:]))
    parts = [f"{moved} of {len(saved) - 1} tokens map to other ids"]
    if missing:
        parts.append(f"{missing} of the checkpoint's tokens are not in the data")
    if new:
        parts.append(f"{new} tokens of the data are not in the checkpoint")
    return f"{role} ids differ from the checkpoint's: {', '.join(parts)}"


def check_token_maps(saved: dict[str, dict[str, Any]] | None, dataset, source: str) -> None:
    """Refuse ``dataset`` if its user or item ids differ from the maps ``saved`` with checkpoint
    ``source`` (:func:`saved_token_maps`, read before the data is rebuilt with the checkpoint's
    config: rebuilding records the new data's maps on that config).

    Raises:
        ValueError: naming ``source`` (the checkpoint), the field and what differs.
    """
    if saved is None:
        if source not in _warned:
            _warned.add(source)
            getLogger().warning(
                f"{source} carries no token <-> id maps (written by RecBole's run_recbole or an older "
                "recbole-mind): cannot check that the data gives the ids it was trained with"
            )
        return
    features = {role: entry["field"] for role, entry in saved.items() if role not in ("user", "item")}
    current = token_maps_of(dataset, features)
    for role, entry in saved.items():
        field, what = entry["field"], role.split(":")[0]  # "item feature:class" -> "item feature"
        if role not in current or current[role]["field"] != field:
            found = current[role]["field"] if role in current else None
            raise ValueError(f"{source} was trained with {what} field {field!r}; the data has {found!r}")
        difference = describe_difference(what, np.asarray(entry["tokens"]), current[role]["tokens"])
        if difference:
            raise ValueError(
                f"{source}, field {field!r}: {difference}; the data is not the data this checkpoint was "
                "trained on (the same rows in another order give other ids): load it with "
                "the files it was trained on"
            )
