"""Side features: user profile fields and item fields, embedded from a RecBole dataset.

Supported field types: ``token`` (one embedding), ``token_seq`` (mean of its tokens'
embeddings, padding excluded) and ``float`` (a learned vector scaled by the value, plus a bias).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from recbole.data.interaction import Interaction
from recbole.utils import FeatureSource, FeatureType

SUPPORTED_TYPES = (FeatureType.TOKEN, FeatureType.TOKEN_SEQ, FeatureType.FLOAT)


def check_fields(dataset, fields: Sequence[str], key: str, source: FeatureSource) -> list[str]:
    """Fields of ``source`` (user or item features) named by config ``key``, checked.

    Raises ``ValueError`` naming the field and listing the dataset's fields of that source.
    """
    if isinstance(fields, str) or not isinstance(fields, (list, tuple)):
        raise ValueError(f"{key} must be a list of field names, got {fields!r}")
    available = sorted(
        field for field, field_source in dataset.field2source.items()
        if field_source == source and field not in (dataset.uid_field, dataset.iid_field)
    )
    suffix = "user" if source == FeatureSource.USER else "item"
    for field in fields:
        if field not in available:
            listed = ", ".join(available) if available else "none loaded"
            raise ValueError(
                f"{key}: field {field!r} is not among the dataset's {suffix} features "
                f"({listed}); load it with load_col: {{{suffix}: [...]}} from the .{suffix} file"
            )
        if dataset.field2type[field] not in SUPPORTED_TYPES:
            raise ValueError(
                f"{key}: field {field!r} has type {dataset.field2type[field].value}; supported: "
                + ", ".join(kind.value for kind in SUPPORTED_TYPES)
            )
    return list(fields)


class FieldEmbedding(nn.Module):
    """Embeds several fields into ``(..., F, d)``.

    Args:
        dataset: the RecBole dataset the fields come from.
        fields: field names (checked with :func:`check_fields`).
        embedding_size: ``d``.
    """

    def __init__(self, dataset, fields: Sequence[str], embedding_size: int) -> None:
        super().__init__()
        self.fields = list(fields)
        self.types = {field: dataset.field2type[field] for field in self.fields}
        self.embeddings = nn.ModuleDict()
        for field in self.fields:
            if self.types[field] == FeatureType.FLOAT:
                self.embeddings[field] = nn.Linear(1, embedding_size)
            else:
                self.embeddings[field] = nn.Embedding(dataset.num(field), embedding_size, padding_idx=0)

    def forward(self, values: Interaction | dict[str, torch.Tensor]) -> torch.Tensor:
        """``values[field]``: ``(...)`` for token and float fields, ``(..., S)`` for token_seq.

        Returns ``(..., F, d)``.
        """
        embedded = []
        for field in self.fields:
            value, layer = values[field], self.embeddings[field]
            if self.types[field] == FeatureType.FLOAT:
                embedded.append(layer(value.float().unsqueeze(-1)))
            elif self.types[field] == FeatureType.TOKEN:
                embedded.append(layer(value.long()))
            else:
                tokens = value.long()
                mask = (tokens != 0).unsqueeze(-1).float()
                summed = (layer(tokens) * mask).sum(dim=-2)
                embedded.append(summed / mask.sum(dim=-2).clamp(min=1.0))
        return torch.stack(embedded, dim=-2)


class ItemEncoder(nn.Module):
    """Item vectors: the id embedding mean-pooled with the embeddings of the item's fields.

    The item feature table of the dataset is kept as buffers, so history items, target items
    and the whole catalogue are encoded the same way. With no fields this is the id embedding.

    Args:
        dataset: RecBole dataset (its ``item_feat`` rows are indexed by item id).
        fields: item field names (checked with :func:`check_fields`).
        n_items: catalogue size including padding.
        embedding_size: ``d``.
        sparse: sparse gradients for the id table (rows looked up in the batch only).
        normalize: L2-normalise every item vector, for cosine scores.
    """

    def __init__(
        self,
        dataset,
        fields: Sequence[str],
        n_items: int,
        embedding_size: int,
        sparse: bool = False,
        normalize: bool = False,
    ) -> None:
        super().__init__()
        self.normalize = normalize
        self.id_embedding = nn.Embedding(n_items, embedding_size, padding_idx=0, sparse=sparse)
        self.fields = list(fields)
        self.field_embedding = FieldEmbedding(dataset, self.fields, embedding_size) if self.fields else None
        if self.fields:
            table = dataset.get_item_feature()
            for field in self.fields:
                self.register_buffer(f"table_{field}", table[field].clone(), persistent=False)

    def forward(self, item_ids: torch.Tensor) -> torch.Tensor:
        """``(...)`` item ids -> ``(..., d)`` item vectors."""
        vectors = self.id_embedding(item_ids)
        if self.field_embedding is not None:
            values = {field: getattr(self, f"table_{field}")[item_ids] for field in self.fields}
            pooled = torch.cat([vectors.unsqueeze(-2), self.field_embedding(values)], dim=-2)
            vectors = pooled.mean(dim=-2)
        return F.normalize(vectors, dim=-1) if self.normalize else vectors

    def all_items(self) -> torch.Tensor:
        """``(n_items, d)`` vectors of the whole catalogue."""
        if self.field_embedding is None and not self.normalize:
            return self.id_embedding.weight
        return self.forward(torch.arange(self.id_embedding.num_embeddings, device=self.id_embedding.weight.device))
