"""What leaves a checkpoint for serving: vector files, and top-N lists per user.

Export format (a folder, loadable with numpy alone, no pickle):

- ``items.npz``: ``tokens`` (n_items,) str, the dataset's item tokens; ``vectors``
  (n_items, d) float32, the item vectors the model scores with (padding item excluded).
- ``interests.npz``: ``user_tokens`` (R,) str; ``interest_index`` (R,) int, the capsule
  each row comes from; ``vectors`` (R, d) float32. One row per *active* interest of each
  user, users in the order asked for, so a user with K'_u active interests has K'_u rows;
  ``users`` (U,) str, every user asked for, and ``has_history`` (U,) bool, False for a user
  without any interaction in the dataset: such a user has no rows (nothing to recommend from).
- ``meta.json``: checkpoint, dataset, model keys and the history each user was read from.
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np

from recbole_mind.data.output import all_or_nothing, check_output_path
from recbole_mind.serving.index import Recommendations, build_index, check_n, retrieve
from recbole_mind.diversity.categories import item_categories
from recbole_mind.data.output import refuse_output_onto_input
from recbole_mind.diversity.greedy import ItemCategories
from recbole_mind.settings.diversity import check_diversity_lambda
from recbole_mind.serving.users import FIRST_ITEM_ID, NO_HISTORY_NOTE, item_vectors, rows_of_item_ids, serve_users


EXPORT_FILES = ("items.npz", "interests.npz", "meta.json")


def check_export_folder(out_dir: str, overwrite: bool = False) -> None:
    """Refuse an ``out_dir`` that cannot take an export, or holds an earlier one and
    ``overwrite`` is off (``--overwrite``), before the checkpoint and data are loaded."""
    check_output_path(out_dir, "--out", folder=True)
    earlier = [name for name in EXPORT_FILES if os.path.exists(os.path.join(out_dir, name))]
    if earlier and not overwrite:
        raise ValueError(
            f"--out {out_dir} holds an earlier export ({', '.join(earlier)}): pass --overwrite "
            "(overwrite=True) to replace it, or choose another folder"
        )


def export_vectors(
    checkpoint: str,
    out_dir: str,
    user_tokens: str | Sequence[str] | None = None,
    config_dict: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> dict[str, str]:
    """Write ``items.npz``, ``interests.npz`` and ``meta.json`` (module docstring) to ``out_dir``.

    The three files are written under temporary names and renamed into place together, so an
    interrupted export leaves an earlier one whole. ``overwrite``: replace an earlier export
    (refused otherwise, :func:`check_export_folder`). An export file that is the checkpoint
    (a symlink, a hard link) is refused either way.
    """
    check_export_folder(out_dir, overwrite)
    refuse_output_onto_input([os.path.join(out_dir, name) for name in EXPORT_FILES], [checkpoint], "--out")
    served = serve_users(checkpoint, user_tokens, config_dict)
    config = served.config
    rows = served.interest_rows()
    has_history = served.has_history()
    paths = {name: os.path.join(out_dir, name) for name in EXPORT_FILES}
    meta = {
        "checkpoint": os.path.abspath(checkpoint),
        "dataset": config["dataset"],
        "users": len(served.user_ids),
        "users_without_history": int((~has_history).sum()),
        "interest_rows": len(rows.owners),
        "interest_num": config["interest_num"],
        "embedding_size": config["embedding_size"],
        "history": f"latest MAX_ITEM_LIST_LENGTH={served.model.max_seq_length} interactions in the whole dataset",
        "score": "max over a user's rows of items.vectors @ interests.vectors",
    }
    with all_or_nothing(list(paths.values())) as (items_path, interests_path, meta_path):
        with open(items_path, "wb") as file:  # a file object: np.savez would add .npz to a name
            np.savez(file, tokens=np.asarray(served.item_tokens(), dtype=str), vectors=item_vectors(served.model))
        with open(interests_path, "wb") as file:
            np.savez(
                file,
                user_tokens=np.asarray(served.user_tokens(), dtype=str)[rows.owners],
                interest_index=rows.capsules,
                vectors=rows.vectors,
                users=np.asarray(served.user_tokens(), dtype=str),
                has_history=has_history,
            )
        with open(meta_path, "w", encoding="utf-8") as file:
            json.dump(meta, file, indent=2)
    return paths


def load_vectors(out_dir: str) -> dict[str, np.ndarray]:
    """The arrays ``export_vectors`` wrote: ``item_tokens``, ``item_vectors``, ``user_tokens``,
    ``interest_index``, ``interest_vectors``, and ``users`` and ``has_history`` when the export
    has them (exports before they were added lack them)."""
    with np.load(os.path.join(out_dir, "items.npz")) as items, np.load(
        os.path.join(out_dir, "interests.npz")
    ) as interests:
        return {
            "item_tokens": items["tokens"],
            "item_vectors": items["vectors"],
            "user_tokens": interests["user_tokens"],
            "interest_index": interests["interest_index"],
            "interest_vectors": interests["vectors"],
            **{name: interests[name] for name in ("users", "has_history") if name in interests.files},
        }


def retrieve_for_users(
    checkpoint: str,
    user_tokens: str | Sequence[str] | None,
    n: int = 10,
    index_kind: str = "flat",
    exclude_seen: bool = False,
    config_dict: dict[str, Any] | None = None,
    diversity_lambda: float = 0.0,
    category_field: str | None = None,
    **index_options: Any,
) -> dict[str, Recommendations]:
    """``{user token: [(item token, score), ...]}`` straight from a checkpoint.

    Each list holds ``n`` items unless fewer are left to the user, and then its ``note`` says
    why (``serving.index.Recommendations``): a user without history gets no items and
    ``NO_HISTORY_NOTE``; with ``exclude_seen``, one who has seen all but a few items gets those
    few, one who has seen them all gets none.

    ``diversity_lambda > 0`` chooses each user's ``n`` items by ComiRec's greedy over the
    categories of the item field ``category_field`` (``serving.diversity``; the field must have
    been loaded when the checkpoint was trained); 0 (the default) ranks by score alone.
    """
    check_n(n, "items to retrieve per user")
    diversity_lambda = check_diversity_lambda(diversity_lambda)  # before the (slow) load
    if diversity_lambda > 0 and category_field is None:
        raise ValueError(
            f"diversity_lambda {diversity_lambda} > 0 needs category_field (--category_field): the item "
            "field holding the categories, e.g. class on ml-100k, genre on ml-1m"
        )
    served = serve_users(checkpoint, user_tokens, config_dict)
    categories = None
    if category_field is not None:
        by_item_id = item_categories(served.dataset, category_field, key="category_field")
        categories = ItemCategories(by_item_id.matrix[FIRST_ITEM_ID:])  # by index row
    rows = served.interest_rows()
    index = build_index(item_vectors(served.model), index_kind, **index_options)
    exclude = [rows_of_item_ids(seen) for seen in served.histories.seen] if exclude_seen else None
    results = retrieve(index, rows, len(served.user_ids), n, exclude, categories, diversity_lambda,
                       exclusion="already seen")
    item_tokens = served.item_tokens()
    return {
        str(user): Recommendations(
            [(str(item_tokens[row]), float(score)) for row, score in found],
            note=found.note if history else NO_HISTORY_NOTE,
        )
        for user, found, history in zip(served.user_tokens(), results, served.has_history())
    }
