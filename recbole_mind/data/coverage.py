"""Warnings for data that trains and evaluates, but whose numbers say less than they seem.

None of these stops a run (they can be intended): items that only the ``.item`` file lists
are ranked in the full-sort catalogue but can never be a target nor in a history, and a
user or item token spelt ``[PAD]`` shares its name with RecBole's padding id 0, so a served
or exported list cannot tell the two apart.
"""

from __future__ import annotations

from logging import getLogger

from recbole.data.dataset import Dataset

PADDING_TOKEN = "[PAD]"  # RecBole's token of id 0 in every token field


def catalogue_warnings(dataset: Dataset) -> list[str]:
    """Warnings about ``dataset``'s items and ids (after RecBole loaded it); each is logged too."""
    name, item_field = dataset.dataset_name, dataset.iid_field
    warnings = []
    tokens = dataset.field2id_token[item_field]
    interacted = set(dataset.inter_feat[item_field].tolist()) | {0}
    unused = [tokens[item] for item in range(dataset.item_num) if item not in interacted]
    if unused:
        examples = ", ".join(map(repr, map(str, unused[:3])))
        warnings.append(
            f"dataset {name!r}: {len(unused)} of {dataset.item_num - 1} items ({examples}"
            f"{', ...' if len(unused) > 3 else ''}) are in {name}.item but in no interaction: they are "
            "ranked as candidates but can never be a target; drop their .item rows if that is not intended"
        )
    for field in (dataset.uid_field, item_field):
        if list(dataset.field2id_token[field]).count(PADDING_TOKEN) > 1:
            warnings.append(
                f"dataset {name!r}: a {field} is spelt {PADDING_TOKEN!r}, the token RecBole gives the "
                "padding id 0: served and exported lists cannot tell them apart; rename it"
            )
    for warning in warnings:
        getLogger().warning(warning)
    return warnings
