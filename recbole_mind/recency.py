"""Order and recency for MIND's routing: opt-in layers, all off in the paper's MIND.

B2I routing pools a history without order, so a long window drowns the few recent behaviours
that predict the next item best (docs/tuning.md). These layers give routing that information
while keeping serving unchanged (an item's score is still its best inner product with any
interest):

- :func:`recency_index`: how far each behaviour lies from the most recent one;
- :class:`RecencyEmbedding`: a learned vector per recency position added to each behaviour
  embedding before routing (as ComiRec-SA adds position embeddings);
- :class:`RecencyLogitPrior`: a learned bias per (capsule, recency position) added to the
  Gaussian initial routing logits, so a capsule can specialise in recent or older behaviours;
- :func:`recent_behaviour_weights`: the fixed routing weights of a short-term capsule that
  pools the ``m`` most recent behaviours;
- :class:`RecencyWeights`: a learned weight per recency position of that window instead.

Shape letters as in :mod:`recbole_mind.layers` (B batch, L history length, K interests, d
embedding size). Histories are left-aligned: the most recent behaviour sits at
``length - 1``.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def recency_index(seq_len: torch.Tensor, seq_length: int) -> torch.Tensor:
    """Distance of each position from the most recent behaviour: 0 for the latest.

    Args:
        seq_len: ``(B,)`` number of real behaviours.
        seq_length: ``L``.

    Returns:
        ``(B, L)`` long in ``[0, L - 1]``; padding positions (beyond ``seq_len``) get 0, as
        every consumer masks them.
    """
    positions = torch.arange(seq_length, device=seq_len.device).unsqueeze(0)
    return (seq_len.unsqueeze(1) - 1 - positions).clamp(min=0)


def recent_behaviour_weights(seq_len: torch.Tensor, seq_length: int, window: int) -> torch.Tensor:
    """Routing weights ``(B, 1, L)`` of a capsule made of the ``window`` latest behaviours.

    Each of those behaviours gets weight 1 (as in routing over the interest axis with a single
    capsule, where every behaviour gives itself whole), every other position 0.
    """
    positions = torch.arange(seq_length, device=seq_len.device).unsqueeze(0)
    real = positions < seq_len.unsqueeze(1)
    recent = real & (recency_index(seq_len, seq_length) < window)
    return recent.unsqueeze(1).float()


class RecencyEmbedding(nn.Module):
    """A learned ``d``-vector per recency position, added to the behaviour embeddings.

    Args:
        max_seq_length: ``L``, the most positions a history has.
        embedding_size: ``d``.
    """

    def __init__(self, max_seq_length: int, embedding_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(max_seq_length, embedding_size)

    def forward(
        self, seq_len: torch.Tensor, seq_length: int, transform: Callable | None = None
    ) -> torch.Tensor:
        """Recency vectors ``(B, L, d)`` to add to the behaviour embeddings; 0 at padding.

        ``transform`` maps the ``(L, d)`` table first: a linear map applied to these ``L``
        rows costs less than applying it to every position of the batch.
        """
        table = self.embedding.weight if transform is None else transform(self.embedding.weight)
        real = torch.arange(seq_length, device=seq_len.device).unsqueeze(0) < seq_len.unsqueeze(1)
        return table[recency_index(seq_len, seq_length)] * real.unsqueeze(-1)


class RecencyLogitPrior(nn.Module):
    """A learned bias ``(K, L)`` by capsule and recency position for the routing logits.

    Starts at zero (the paper's routing); its gradient reaches it through the routing weights,
    although the routing updates themselves carry none.

    Args:
        interest_num: number of routed capsules.
        max_seq_length: ``L``.
    """

    def __init__(self, interest_num: int, max_seq_length: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(interest_num, max_seq_length))

    def forward(self, seq_len: torch.Tensor, seq_length: int) -> torch.Tensor:
        """Prior logits ``(B, K, L)`` for histories of ``seq_len`` real behaviours."""
        recency = recency_index(seq_len, seq_length)  # (B, L)
        return self.bias[:, recency].permute(1, 0, 2)


class RecencyWeights(nn.Module):
    """A learned weight per recency position for the short-term capsule's ``window`` behaviours.

    Starts at 1 everywhere, which is :func:`recent_behaviour_weights`; training can then
    favour the latest behaviours (or any position) over the rest of the window.

    Args:
        window: ``m``, the number of latest behaviours pooled.
    """

    def __init__(self, window: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(window))

    def forward(self, seq_len: torch.Tensor, seq_length: int) -> torch.Tensor:
        """Weights ``(B, 1, L)``: ``weight[r]`` at the behaviour of recency ``r < m``, 0 elsewhere."""
        window = self.weight.numel()
        recent = recent_behaviour_weights(seq_len, seq_length, window)  # (B, 1, L) of 0/1
        recency = recency_index(seq_len, seq_length).clamp(max=window - 1)
        return recent * self.weight[recency].unsqueeze(1)
