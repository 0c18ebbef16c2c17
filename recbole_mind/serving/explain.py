"""Explanations: which history items formed each interest (routing weights), what it retrieves."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from recbole_mind.data.atomic import check_atomic_file
from recbole_mind.data.output import all_or_nothing
from recbole_mind.model.scoring import max_interest_scores
from recbole_mind.serving.index import check_n
from recbole_mind.serving.users import NO_HISTORY_NOTE, item_vectors, serve_users

TITLE_FIELDS = ("movie_title", "title", "name")


def item_titles(config, dataset) -> dict[str, str]:
    """Item token -> title, from the dataset's ``.item`` file when it has a title column.

    The header is read (and the file checked) by the atomic-file reader, with the dataset's
    ``field_separator`` and ``encoding``, as RecBole reads it.
    """
    path = os.path.join(config["data_path"], f"{config['dataset']}.item")
    if not os.path.isfile(path):
        return {}
    separator = config["field_separator"] or "\t"
    encoding = (config["encoding"] if "encoding" in config else None) or "utf-8"
    header = check_atomic_file(path, separator, encoding=encoding)
    title_column = next((header.index(name) for name in TITLE_FIELDS if name in header), None)
    if title_column is None or dataset.iid_field not in header:
        return {}
    id_column = header.index(dataset.iid_field)
    titles = {}
    with open(path, encoding=encoding) as file:
        next(file)  # the header
        for line in file:
            cells = line.rstrip("\r\n").split(separator)
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
        sum to 1. Padding never appears. An interest's scores are the model's serving scores
        for that interest alone. ``note``: None, or for a user without any interaction
        ``users.NO_HISTORY_NOTE`` and no interests (they would be formed from padding alone).
    """
    check_n(n, "items to show per interest")
    served = serve_users(checkpoint, [user_token], config_dict)
    config, dataset = served.config, served.dataset
    length = int(served.histories.item_seq_len[0])
    history_ids = served.histories.item_seq[0, :length].numpy()
    titles = item_titles(config, dataset)
    history_tokens = [str(token) for token in dataset.id2token(dataset.iid_field, history_ids)]
    catalogue = torch.from_numpy(item_vectors(served.model))
    item_tokens = served.item_tokens()
    explained = []
    active = served.capsule_mask[0] & bool(served.has_history()[0])
    for capsule in active.nonzero(as_tuple=True)[0].tolist():
        routing = served.routing_weights[0, capsule, :length].numpy()
        one_interest = served.interests[:1, capsule : capsule + 1]  # (1, 1, d)
        scores = max_interest_scores(one_interest, catalogue, torch.ones(1, 1, dtype=torch.bool))[0].numpy()
        explained.append({
            "interest": capsule,
            "routing_weights": [float(weight) for weight in routing],
            "top_behaviours": [
                {"item": history_tokens[position], "title": titles.get(history_tokens[position], ""),
                 "weight": float(routing[position])}
                for position in np.argsort(-routing, kind="stable")[: min(n, length)]
            ],
            "retrieves": [
                {"item": str(item_tokens[row]), "title": titles.get(str(item_tokens[row]), ""),
                 "score": float(scores[row])}
                for row in np.argsort(-scores, kind="stable")[:n]
            ],
        })
    return {
        "user": str(user_token),
        "history": [{"item": token, "title": titles.get(token, "")} for token in history_tokens],
        "routing_softmax_axis": config["routing_softmax_axis"],
        "interests": explained,
        "note": None if served.has_history()[0] else NO_HISTORY_NOTE,
    }


def plot_routing(explanation: dict[str, Any], path: str) -> None:
    """PNG heat-map of the routing weights: interests x history items.

    Raises:
        ValueError: the explanation has no interests (a user without history).
    """
    if not explanation["interests"]:
        raise ValueError(f"no routing weights to plot for user {explanation['user']}: {explanation.get('note')}")
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
    # The rotated titles are taller than a figure a few interests high: tight_layout cannot fit
    # them and clipped the labels. A tight bounding box grows the canvas around them instead.
    # Written under a fresh temporary name, then renamed onto path (data.output.all_or_nothing):
    # a failed plot leaves an earlier one whole and a link at path is replaced, not written
    # through. The temporary name ends in .part: the format comes from path (PNG without a suffix).
    image_format = os.path.splitext(path)[1][1:].lower() or "png"
    try:
        with all_or_nothing([path]) as (partial,):
            figure.savefig(partial, format=image_format, dpi=120, bbox_inches="tight")
    finally:
        plt.close(figure)
