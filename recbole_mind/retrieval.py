"""Serving MIND: export interest vectors, retrieve with an (ANN) index per interest, explain.

After training, label-aware attention is dropped: a user is the set of their active interest
vectors (inactive capsules omitted) and ``score(u, i) = max_k e_i . v_u^k``. Retrieval queries
an inner-product index with every active interest, merges the lists by that max score and
removes duplicates; optionally the user's already-seen items are dropped.

Export format (a folder, loadable with numpy alone, no pickle):

- ``items.npz``: ``tokens`` (n_items,) str, the dataset's item tokens; ``vectors``
  (n_items, d) float32, the item vectors the model scores with (padding item excluded).
- ``interests.npz``: ``user_tokens`` (R,) str; ``interest_index`` (R,) int, the capsule
  each row comes from; ``vectors`` (R, d) float32. One row per *active* interest of each
  user, users in the order asked for, so a user with K'_u active interests has K'_u rows.
- ``meta.json``: checkpoint, dataset, model keys and the history each user was read from.

Histories are the user's latest ``MAX_ITEM_LIST_LENGTH`` interactions in the whole dataset
(time order), i.e. what would be served now, not the test-time history.

Command line: ``python -m recbole_mind.retrieval {export,retrieve,explain} CHECKPOINT ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

INDEX_KINDS = ("flat", "hnsw", "ivf")
TITLE_FIELDS = ("movie_title", "title", "name")


# ---------------------------------------------------------------------------------- model side
def load_mind(checkpoint: str, config_dict: dict[str, Any] | None = None) -> tuple:
    """``(config, model, dataset)`` of a MIND checkpoint, model in eval mode on CPU."""
    from recbole_mind.checkpoint import data_and_model, load_checkpoint
    from recbole_mind.mind import MIND

    saved = load_checkpoint(checkpoint)
    if saved["config"]["model"] != "MIND":
        raise ValueError(
            f"{checkpoint} holds a {saved['config']['model']} model; export, retrieval and explanations "
            "need a MIND checkpoint (saved/MIND-<time>.pth)"
        )
    config, model, dataset, *_ = data_and_model(saved, config_dict)
    assert isinstance(model, MIND)
    return config, model, dataset


@dataclass
class ServedUsers:
    """What a checkpoint serves for some users: their histories and interests."""

    config: Any
    model: Any
    dataset: Any
    user_ids: np.ndarray
    histories: Histories
    interests: torch.Tensor  # (U, K, d)
    capsule_mask: torch.Tensor  # (U, K)
    routing_weights: torch.Tensor  # (U, K, L)

    def item_tokens(self) -> np.ndarray:
        """Tokens of the real items, aligned with :func:`item_vectors` rows."""
        return self.dataset.id2token(self.dataset.iid_field, np.arange(1, self.dataset.item_num))

    def user_tokens(self) -> np.ndarray:
        """Tokens of the served users, aligned with ``user_ids``."""
        return self.dataset.id2token(self.dataset.uid_field, self.user_ids)


def serve_users(
    checkpoint: str, user_tokens: Sequence[str] | None, config_dict: dict[str, Any] | None = None
) -> ServedUsers:
    """Load a MIND checkpoint and compute the interests of ``user_tokens`` (all users: None)."""
    config, model, dataset = load_mind(checkpoint, config_dict)
    user_ids = user_ids_of(dataset, user_tokens)
    histories = latest_histories(dataset, user_ids, model.max_seq_length)
    return ServedUsers(config, model, dataset, user_ids, histories, *user_interests(model, dataset, histories))


@dataclass
class Histories:
    """Latest behaviours of some users, as MIND's forward takes them."""

    user_ids: torch.Tensor  # (U,) internal user ids
    item_seq: torch.Tensor  # (U, L) internal item ids, 0 = padding
    item_seq_len: torch.Tensor  # (U,)
    seen: list[np.ndarray]  # every item id each user interacted with


def user_ids_of(dataset, user_tokens: Sequence[str] | None) -> np.ndarray:
    """Internal ids of ``user_tokens`` (all users when None); unknown tokens raise ValueError."""
    field = dataset.uid_field
    if user_tokens is None:
        return np.arange(1, dataset.user_num)
    known = dataset.field2token_id[field]
    # id 0 is RecBole's padding token ([PAD]): it has no history and is no user
    unknown = [token for token in user_tokens if known.get(str(token), 0) == 0]
    if unknown:
        raise ValueError(
            f"Unknown user token(s) {unknown[:5]} for {field!r} in dataset {dataset.dataset_name!r} "
            f"({dataset.user_num - 1} users, e.g. {[str(token) for token in list(known)[1:4]]}; "
            f"{dataset.field2id_token[field][0]!r} is the padding token, not a user)"
        )
    return np.array([known[str(token)] for token in user_tokens], dtype=np.int64)


def latest_histories(dataset, user_ids: np.ndarray, max_length: int) -> Histories:
    """Each user's latest ``max_length`` interactions, oldest first, over the whole dataset."""
    inter = dataset.inter_feat
    users = inter[dataset.uid_field].numpy()
    items = inter[dataset.iid_field].numpy()
    times = (
        inter[dataset.time_field].numpy() if dataset.time_field in inter else np.zeros(len(users))
    )
    order = np.lexsort((np.arange(len(users)), times, users))
    users, items = users[order], items[order]
    starts = np.searchsorted(users, user_ids, side="left")
    ends = np.searchsorted(users, user_ids, side="right")
    item_seq = np.zeros((len(user_ids), max_length), dtype=np.int64)
    lengths = np.minimum(ends - starts, max_length)
    seen = []
    for row, (start, end, length) in enumerate(zip(starts, ends, lengths)):
        item_seq[row, :length] = items[end - length : end]
        seen.append(np.unique(items[start:end]))
    return Histories(
        torch.as_tensor(user_ids), torch.as_tensor(item_seq), torch.as_tensor(lengths), seen
    )


@torch.no_grad()
def user_interests(model, dataset, histories: Histories, batch_size: int = 1024) -> tuple:
    """Interests ``(U, K, d)``, capsule mask ``(U, K)`` and routing weights ``(U, K, L)``."""
    from recbole.data.interaction import Interaction

    model.eval()
    outputs = []
    for start in range(0, len(histories.user_ids), batch_size):
        rows = slice(start, start + batch_size)
        batch = Interaction({dataset.uid_field: histories.user_ids[rows]})
        if model.user_profile is not None:
            batch = dataset.join(batch)  # the profile fields of these users
        outputs.append(
            model(histories.item_seq[rows], histories.item_seq_len[rows], batch, return_routing_weights=True)
        )
    return tuple(torch.cat(parts) for parts in zip(*outputs))


@torch.no_grad()
def item_vectors(model) -> np.ndarray:
    """``(n_items - 1, d)`` float32 vectors of the real items (internal ids 1..n-1)."""
    model.eval()
    return model.item_encoder.all_items()[1:].cpu().numpy().astype(np.float32)


def export_vectors(
    checkpoint: str,
    out_dir: str,
    user_tokens: Sequence[str] | None = None,
    config_dict: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Write ``items.npz``, ``interests.npz`` and ``meta.json`` (module docstring) to ``out_dir``."""
    served = serve_users(checkpoint, user_tokens, config_dict)
    config = served.config
    rows, capsules = served.capsule_mask.nonzero(as_tuple=True)
    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, name) for name in ("items.npz", "interests.npz", "meta.json")}
    np.savez(
        paths["items.npz"],
        tokens=np.asarray(served.item_tokens(), dtype=str),
        vectors=item_vectors(served.model),
    )
    user_token_array = np.asarray(served.user_tokens(), dtype=str)
    np.savez(
        paths["interests.npz"],
        user_tokens=user_token_array[rows.numpy()],
        interest_index=capsules.numpy().astype(np.int64),
        vectors=served.interests[rows, capsules].numpy().astype(np.float32),
    )
    meta = {
        "checkpoint": os.path.abspath(checkpoint),
        "dataset": config["dataset"],
        "users": len(served.user_ids),
        "interest_rows": int(len(rows)),
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


# ---------------------------------------------------------------------------------- index side
def check_n(n: Any, what: str) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"n ({what}) must be an integer >= 1, got {n!r}")


class ExactIndex:
    """Exact inner-product search with numpy: ``IndexFlatIP``'s results without faiss."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.ntotal = len(self.vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = queries @ self.vectors.T
        k = min(k, self.ntotal)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        return np.take_along_axis(top_scores, order, axis=1), np.take_along_axis(top, order, axis=1)


def _faiss(kind: str):
    try:
        import faiss
    except ImportError as error:
        raise ImportError(
            f"index {kind!r} needs faiss: pip install faiss-cpu (or pip install 'recbole-mind[retrieval]'); "
            "index 'flat' also works without it"
        ) from error
    return faiss


def build_index(
    vectors: np.ndarray,
    kind: str = "flat",
    hnsw_m: int = 32,
    hnsw_ef_construction: int = 80,
    hnsw_ef_search: int = 128,
    ivf_lists: int | None = None,
    ivf_probes: int = 16,
    seed: int = 2020,
):
    """Inner-product index over ``vectors`` ``(N, d)``.

    ``flat``: exact (faiss ``IndexFlatIP``, or :class:`ExactIndex` without faiss); ``hnsw``:
    graph ``IndexHNSWFlat`` (``hnsw_m`` links per node, ``hnsw_ef_search`` candidates per query);
    ``ivf``: ``IndexIVFFlat`` with ``ivf_lists`` k-means cells (default ``4 sqrt(N)``, at most
    ``N / 39``), of which
    ``ivf_probes`` are scanned per query.
    """
    if kind not in INDEX_KINDS:
        raise ValueError(f"index must be one of {INDEX_KINDS}, got {kind!r}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if kind == "flat":
        try:
            import faiss
        except ImportError:
            return ExactIndex(vectors)
        index = faiss.IndexFlatIP(vectors.shape[1])
    elif kind == "hnsw":
        faiss = _faiss(kind)
        index = faiss.IndexHNSWFlat(vectors.shape[1], hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = hnsw_ef_construction
        index.hnsw.efSearch = hnsw_ef_search
    else:
        faiss = _faiss(kind)
        # faiss's k-means wants >= 39 training points per cell
        lists = ivf_lists or max(1, min(int(4 * np.sqrt(len(vectors))), len(vectors) // 39))
        quantizer = faiss.IndexFlatIP(vectors.shape[1])
        index = faiss.IndexIVFFlat(quantizer, vectors.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        index.train(vectors)
        index.nprobe = ivf_probes
    index.add(vectors)
    return index


def merge_interest_results(
    scores: np.ndarray,
    items: np.ndarray,
    owners: np.ndarray,
    users: int,
    n: int,
    exclude: Sequence[np.ndarray] | None = None,
) -> list[list[tuple[int, float]]]:
    """Per user, the ``n`` best items over all of their interests' result lists.

    Args:
        scores, items: ``(R, k)`` results of the R interest queries (item -1 = no result).
        owners: ``(R,)`` the user (0..users-1) each query belongs to.
        exclude: per user, item positions to drop (e.g. already seen).

    Returns:
        per user, ``[(item position, score), ...]`` best first; an item found by several
        interests appears once, with its best score (= max over interests).
    """
    merged: list[dict[int, float]] = [{} for _ in range(users)]
    for owner, row_scores, row_items in zip(owners, scores, items):
        best = merged[owner]
        for item, score in zip(row_items.tolist(), row_scores.tolist()):
            if item >= 0 and score > best.get(item, -np.inf):
                best[item] = score
    results = []
    for user, best in enumerate(merged):
        if exclude is not None:
            for item in exclude[user].tolist():
                best.pop(item, None)
        results.append(sorted(best.items(), key=lambda pair: (-pair[1], pair[0]))[:n])
    return results


def retrieve(
    index,
    interest_vectors: np.ndarray,
    owners: np.ndarray,
    users: int,
    n: int,
    exclude: Sequence[np.ndarray] | None = None,
) -> list[list[tuple[int, float]]]:
    """Top-``n`` item positions with scores per user: every interest queried, merged, deduplicated.

    Each interest asks for ``n`` plus the number of excluded items of its user, so ``n`` items
    remain after the exclusion whenever the catalogue has them.
    """
    check_n(n, "items to retrieve per user")
    extra = max((len(items) for items in exclude), default=0) if exclude is not None else 0
    k = min(n + extra, index.ntotal)
    scores, items = index.search(np.ascontiguousarray(interest_vectors, dtype=np.float32), k)
    return merge_interest_results(scores, items, owners, users, n, exclude)


def retrieve_for_users(
    checkpoint: str,
    user_tokens: Sequence[str] | None,
    n: int = 10,
    index_kind: str = "flat",
    exclude_seen: bool = False,
    config_dict: dict[str, Any] | None = None,
    **index_options: Any,
) -> dict[str, list[tuple[str, float]]]:
    """``{user token: [(item token, score), ...]}`` straight from a checkpoint."""
    check_n(n, "items to retrieve per user")
    served = serve_users(checkpoint, user_tokens, config_dict)
    owners, capsules = served.capsule_mask.nonzero(as_tuple=True)
    index = build_index(item_vectors(served.model), index_kind, **index_options)
    exclude = [seen - 1 for seen in served.histories.seen] if exclude_seen else None  # ids -> positions
    queries = served.interests[owners, capsules].numpy()
    results = retrieve(index, queries, owners.numpy(), len(served.user_ids), n, exclude)
    item_tokens = served.item_tokens()
    return {
        str(user): [(str(item_tokens[item]), float(score)) for item, score in found]
        for user, found in zip(served.user_tokens(), results)
    }


# ---------------------------------------------------------------------------------- explanations
def item_titles(config, dataset) -> dict[str, str]:
    """Item token -> title, from the dataset's ``.item`` file when it has a title column."""
    path = os.path.join(config["data_path"], f"{config['dataset']}.item")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as file:
        header = [column.split(":")[0] for column in file.readline().rstrip("\n").split("\t")]
        title_column = next((header.index(name) for name in TITLE_FIELDS if name in header), None)
        if title_column is None:
            return {}
        id_column = header.index(dataset.iid_field)
        titles = {}
        for line in file:
            cells = line.rstrip("\n").split("\t")
            if len(cells) > max(id_column, title_column):
                titles[cells[id_column]] = cells[title_column]
    return titles


def explain(
    checkpoint: str,
    user_token: str,
    n: int = 10,
    config_dict: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """How each of a user's interests was formed and what it retrieves.

    Returns:
        ``{"user", "history": [{"item", "title"}], "routing_softmax_axis",
        "interests": [{"interest", "routing_weights": [...] aligned with history,
        "top_behaviours": [{"item", "title", "weight"}], "retrieves": [{"item", "title",
        "score"}]}]}``. Routing weights are the last routing iteration's coupling
        coefficients: with ``routing_softmax_axis: interest`` each behaviour's weights over the
        active interests sum to 1; with ``behaviour`` each interest's weights over the history
        sum to 1. Padding never appears.
    """
    check_n(n, "items to show per interest")
    served = serve_users(checkpoint, [user_token], config_dict)
    config, dataset = served.config, served.dataset
    length = int(served.histories.item_seq_len[0])
    history_ids = served.histories.item_seq[0, :length].numpy()
    titles = item_titles(config, dataset)
    history_tokens = [str(token) for token in dataset.id2token(dataset.iid_field, history_ids)]
    all_vectors = item_vectors(served.model)
    item_tokens = served.item_tokens()
    explained = []
    for capsule in served.capsule_mask[0].nonzero(as_tuple=True)[0].tolist():
        routing = served.routing_weights[0, capsule, :length].numpy()
        scores = all_vectors @ served.interests[0, capsule].numpy()
        top_items = np.argsort(-scores, kind="stable")[:n]
        explained.append({
            "interest": capsule,
            "routing_weights": [float(weight) for weight in routing],
            "top_behaviours": [
                {"item": history_tokens[position], "title": titles.get(history_tokens[position], ""),
                 "weight": float(routing[position])}
                for position in np.argsort(-routing, kind="stable")[: min(n, length)]
            ],
            "retrieves": [
                {"item": str(item_tokens[item]), "title": titles.get(str(item_tokens[item]), ""),
                 "score": float(scores[item])}
                for item in top_items
            ],
        })
    return {
        "user": str(user_token),
        "history": [{"item": token, "title": titles.get(token, "")} for token in history_tokens],
        "routing_softmax_axis": config["routing_softmax_axis"],
        "interests": explained,
    }


def plot_routing(explanation: dict[str, Any], path: str) -> None:
    """PNG heat-map of the routing weights: interests x history items."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.array([interest["routing_weights"] for interest in explanation["interests"]])
    labels = [entry["title"] or entry["item"] for entry in explanation["history"]]
    figure, axes = plt.subplots(figsize=(max(4, 0.6 * len(labels) + 2), 1 + 0.6 * len(matrix)))
    image = axes.imshow(matrix, aspect="auto", cmap="viridis", vmin=0)
    axes.set_xticks(range(len(labels)), [label[:24] for label in labels], rotation=60, ha="right")
    axes.set_yticks(range(len(matrix)), [f"interest {i['interest']}" for i in explanation["interests"]])
    axes.set_title(f"routing weights of user {explanation['user']} (oldest behaviour left)")
    figure.colorbar(image, ax=axes)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


# ---------------------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recbole_mind.retrieval",
        description="Export MIND's interest vectors, retrieve top-N items per user, explain interests.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("checkpoint", help="a MIND checkpoint, e.g. saved/MIND-<time>.pth")
    common.add_argument("--data_path", default=None,
                        help="folder holding the dataset's subfolder, if not where the checkpoint was trained")
    export = commands.add_parser("export", parents=[common], help="write item and interest vectors")
    export.add_argument("--out", required=True, help="output folder (items.npz, interests.npz, meta.json)")
    export.add_argument("--users", nargs="+", default=None, help="user tokens (default: every user)")
    search = commands.add_parser("retrieve", parents=[common], help="top-N items per user")
    search.add_argument("--users", nargs="+", required=True, help="user tokens")
    search.add_argument("--n", type=int, default=10, help="items per user (default 10)")
    search.add_argument("--index", choices=INDEX_KINDS, default="flat", help="flat (exact), hnsw or ivf")
    search.add_argument("--exclude_seen", action="store_true", help="drop items the user already interacted with")
    why = commands.add_parser("explain", parents=[common], help="routing weights and items per interest")
    why.add_argument("--user", required=True, help="user token")
    why.add_argument("--n", type=int, default=10, help="items shown per interest (default 10)")
    why.add_argument("--plot", default=None, help="write a PNG heat-map of the routing weights here")
    why.add_argument("--json", action="store_true", help="print the explanation as JSON")
    return parser


def _print_explanation(explanation: dict[str, Any]) -> None:
    print(f"user {explanation['user']}: {len(explanation['history'])} behaviours, "
          f"{len(explanation['interests'])} active interests "
          f"(routing softmax over {explanation['routing_softmax_axis']})")
    for interest in explanation["interests"]:
        print(f"interest {interest['interest']}")
        print("  formed by (routing weight):")
        for entry in interest["top_behaviours"]:
            print(f"    {entry['weight']:.3f}  {entry['item']}  {entry['title']}")
        print("  retrieves (score):")
        for entry in interest["retrieves"]:
            print(f"    {entry['score']:.3f}  {entry['item']}  {entry['title']}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config_dict = {"data_path": args.data_path} if args.data_path else None
    try:
        if args.command == "export":
            paths = export_vectors(args.checkpoint, args.out, args.users, config_dict)
            print("\n".join(f"wrote {path}" for path in paths.values()))
        elif args.command == "retrieve":
            found = retrieve_for_users(args.checkpoint, args.users, args.n, args.index, args.exclude_seen, config_dict)
            for user, items in found.items():
                print(f"{user}: " + ", ".join(f"{item} ({score:.3f})" for item, score in items))
        else:
            explanation = explain(args.checkpoint, args.user, args.n, config_dict)
            if args.json:
                print(json.dumps(explanation, indent=2))
            else:
                _print_explanation(explanation)
            if args.plot:
                plot_routing(explanation, args.plot)
                print(f"wrote {args.plot}")
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
