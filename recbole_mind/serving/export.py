"""What leaves a checkpoint for serving: vector files, and top-N lists per user.

Export format (a folder, loadable with numpy alone, no pickle):

- ``items.npz``: ``tokens`` (n_items,) str, the dataset's item tokens; ``vectors``
  (n_items, d) float32, the item vectors the model scores with (padding item excluded).
- ``interests.npz``: ``user_tokens`` (R,) str; ``interest_index`` (R,) int, the capsule
  each row comes from; ``vectors`` (R, d) float32. One row per *active* interest of each
  user, users in the order asked for, so a user with K'_u active interests has K'_u rows.
- ``meta.json``: checkpoint, dataset, model keys and the history each user was read from.
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np

from recbole_mind.serving.index import active_interest_rows, build_index, check_n, retrieve
from recbole_mind.serving.users import item_vectors, rows_of_item_ids, serve_users


def export_vectors(
    checkpoint: str,
    out_dir: str,
    user_tokens: str | Sequence[str] | None = None,
    config_dict: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Write ``items.npz``, ``interests.npz`` and ``meta.json`` (module docstring) to ``out_dir``."""
    served = serve_users(checkpoint, user_tokens, config_dict)
    config = served.config
    rows = active_interest_rows(served.interests.numpy(), served.capsule_mask.numpy())
    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, name) for name in ("items.npz", "interests.npz", "meta.json")}
    np.savez(
        paths["items.npz"],
        tokens=np.asarray(served.item_tokens(), dtype=str),
        vectors=item_vectors(served.model),
    )
    np.savez(
        paths["interests.npz"],
        user_tokens=np.asarray(served.user_tokens(), dtype=str)[rows.owners],
        interest_index=rows.capsules,
        vectors=rows.vectors,
    )
    meta = {
        "checkpoint": os.path.abspath(checkpoint),
        "dataset": config["dataset"],
        "users": len(served.user_ids),
        "interest_rows": len(rows.owners),
        "interest_num": config["interest_num"],
        "embedding_size": config["embedding_size"],
        "history": f"latest MAX_ITEM_LIST_LENGTH={served.model.max_seq_length} interactions in the whole dataset",
        "score": "max over a user's rows of items.vectors @ interests.vectors",
    }
    with open(paths["meta.json"], "w", encoding="utf-8") as file:
        json.dump(meta, file, indent=2)
    return paths


def load_vectors(out_dir: str) -> dict[str, np.ndarray]:
    """The arrays ``export_vectors`` wrote: ``item_tokens``, ``item_vectors``, ``user_tokens``,
    ``interest_index``, ``interest_vectors``."""
    with np.load(os.path.join(out_dir, "items.npz")) as items, np.load(
        os.path.join(out_dir, "interests.npz")
    ) as interests:
        return {
            "item_tokens": items["tokens"],
            "item_vectors": items["vectors"],
            "user_tokens": interests["user_tokens"],
            "interest_index": interests["interest_index"],
            "interest_vectors": interests["vectors"],
        }


def retrieve_for_users(
    checkpoint: str,
    user_tokens: str | Sequence[str] | None,
    n: int = 10,
    index_kind: str = "flat",
    exclude_seen: bool = False,
    config_dict: dict[str, Any] | None = None,
    **index_options: Any,
) -> dict[str, list[tuple[str, float]]]:
    """``{user token: [(item token, score), ...]}`` straight from a checkpoint."""
    check_n(n, "items to retrieve per user")
    served = serve_users(checkpoint, user_tokens, config_dict)
    rows = active_interest_rows(served.interests.numpy(), served.capsule_mask.numpy())
    index = build_index(item_vectors(served.model), index_kind, **index_options)
    exclude = [rows_of_item_ids(seen) for seen in served.histories.seen] if exclude_seen else None
    results = retrieve(index, rows, len(served.user_ids), n, exclude)
    item_tokens = served.item_tokens()
    return {
        str(user): [(str(item_tokens[row]), float(score)) for row, score in found]
        for user, found in zip(served.user_tokens(), results)
    }
