"""Order and recency for MIND's routing: opt-in layers, all off in the paper's MIND.

B2I routing pools a history without order, so a long window drowns the few recent behaviours
that predict the next item best (docs/tuning.md). These layers give routing that information
while keeping serving unchanged (an item's score is still its best inner product with any
interest):

- :func:`recency_index`: how far each behaviour lies from the most recent one;
- :func:`real_positions`: which positions hold real behaviours (the rest is padding);
- :class:`RecencyEmbedding`: a learned vector per recency position added to each behaviour
  embedding before routing (as ComiRec-SA adds position embeddings);
- :class:`RecencyLogitPrior`: a learned bias per (capsule, recency position) added to the
  Gaussian initial routing logits, so a capsule can specialise in recent or older behaviours;
- :func:`recent_behaviour_weights`: the fixed routing weights of a short-term capsule that
  pools the ``m`` most recent behaviours;
- :class:`RecencyWeights`: a learned weight per recency position of that window instead;
- :class:`ShortTermAttention`: attention over the whole history window instead, queried by the
  latest behaviour, with a learned recency bias that starts at that window;
- :class:`ShortTermOrderMLP`: a ReLU layer over that window's behaviours in their order, added
  to the pooled short-term capsule (a pooled sum cannot tell which behaviour came last).

Shape letters as in :mod:`recbole_mind.layers` (B batch, L history length, K interests, d
embedding size). Histories are left-aligned: the most recent behaviour sits at
``length - 1``.
"""

from __future__ import annotations

import math
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


def real_positions(seq_len: torch.Tensor, seq_length: int) -> torch.Tensor:
    """``(B, L)`` bool, ``True`` at the ``seq_len`` real behaviours of each left-aligned history."""
    return torch.arange(seq_length, device=seq_len.device).unsqueeze(0) < seq_len.unsqueeze(1)


def recent_behaviour_weights(seq_len: torch.Tensor, seq_length: int, window: int) -> torch.Tensor:
    """Routing weights ``(B, 1, L)`` of a capsule made of the ``window`` latest behaviours.

    Each of those behaviours gets weight 1 (as in routing over the interest axis with a single
    capsule, where every behaviour gives itself whole), every other position 0.
    """
    recent = real_positions(seq_len, seq_length) & (recency_index(seq_len, seq_length) < window)
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
        real = real_positions(seq_len, seq_length)
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


class ShortTermAttention(nn.Module):
    """Short-term capsule weights by attention over the whole history, queried by the latest behaviour.

    The weight of behaviour ``j`` is ``n * softmax_j(q . m_j / sqrt(d) + r[recency_j])`` over the
    real behaviours, where ``m_j`` are the mapped behaviours ``S e_j``, ``q = Q m_latest``,
    ``r`` a learned bias per recency position and ``n = min(|history|, m)``. It starts as
    :func:`recent_behaviour_weights`, up to a leak of ``exp(OLDER_BIAS_START)`` per older
    behaviour: ``Q`` starts at zero and ``r`` at 0 inside the window of ``m`` latest behaviours
    and ``OLDER_BIAS_START`` beyond it. Training can then reach back to older behaviours that
    resemble the latest one (as one self-attention head at the last position does in SASRec)
    or sharpen the window, where :class:`RecencyWeights` can only reweigh its ``m`` positions.

    Args:
        window: ``m``, the behaviours the capsule starts from.
        max_seq_length: ``L``.
        embedding_size: ``d``.
    """

    OLDER_BIAS_START = -5.0

    def __init__(self, window: int, max_seq_length: int, embedding_size: int) -> None:
        super().__init__()
        self.window = window
        bias = torch.full((max_seq_length,), self.OLDER_BIAS_START)
        bias[:window] = 0.0
        self.recency_bias = nn.Parameter(bias)
        # A Parameter rather than nn.Linear: MIND re-initialises every Linear, and the query
        # must start at zero for the capsule to start as the plain window.
        self.query = nn.Parameter(torch.zeros(embedding_size, embedding_size))

    def forward(self, mapped: torch.Tensor, seq_len: torch.Tensor) -> torch.Tensor:
        """Weights ``(B, 1, L)`` of the short-term capsule, 0 at padding and for empty histories.

        Args:
            mapped: ``(B, L, d)`` mapped behaviours, left-aligned.
            seq_len: ``(B,)`` number of real behaviours.
        """
        batch, seq_length, size = mapped.shape
        latest_position = (seq_len - 1).clamp(min=0)
        latest = mapped[torch.arange(batch, device=mapped.device), latest_position]  # (B, d)
        query = latest @ self.query.t()  # (B, d)
        logits = torch.bmm(mapped, query.unsqueeze(-1)).squeeze(-1) / math.sqrt(size)  # (B, L)
        logits = logits + self.recency_bias[recency_index(seq_len, seq_length)]
        real = real_positions(seq_len, seq_length)
        weights = torch.softmax(logits.masked_fill(~real, -math.inf), dim=-1)
        # An empty history has no real position: its row of -inf softmaxes to NaN; make it 0.
        weights = torch.nan_to_num(weights, nan=0.0)
        count = seq_len.clamp(max=self.window).to(weights.dtype).unsqueeze(1)
        return (weights * count).unsqueeze(1)


class ShortTermOrderMLP(nn.Module):
    """An order-aware term for the short-term capsule: a ReLU layer over its window, in order.

    The ``m`` latest mapped behaviours are concatenated latest first (``(B, m * d)``, zeros
    where a history is shorter than ``m``) and mapped by ``W_2 relu(W_1 x + b_1)`` to ``(B, 1,
    d)``, which MIND adds to the pooled capsule before the squash. A pooled sum (with or without
    :class:`RecencyWeights`) is the same for every order of the window and mixes its behaviours
    linearly; this term can weigh a behaviour by what came before it, as a sequential model's
    encoder does, at the cost of one ``(m d) x d`` and one ``d x d`` product per user (a GRU over
    the window costs ``m`` steps of three ``d x d`` products each). ``W_2`` starts at zero, so
    the capsule starts as the pooled window.

    Args:
        window: ``m``, the number of latest behaviours read.
        embedding_size: ``d``.
        dropout_prob: dropout on the hidden layer.
    """

    def __init__(self, window: int, embedding_size: int, dropout_prob: float = 0.0) -> None:
        super().__init__()
        self.window = window
        self.hidden = nn.Linear(window * embedding_size, embedding_size)
        self.dropout = nn.Dropout(dropout_prob)
        # A Parameter rather than nn.Linear: MIND re-initialises every Linear, and this map must
        # start at zero for the capsule to start as the pooled window.
        self.output = nn.Parameter(torch.zeros(embedding_size, embedding_size))

    def forward(self, mapped: torch.Tensor, seq_len: torch.Tensor) -> torch.Tensor:
        """The term ``(B, 1, d)`` to add to the pooled short-term capsule; 0 for empty histories.

        Args:
            mapped: ``(B, L, d)`` mapped behaviours, left-aligned.
            seq_len: ``(B,)`` number of real behaviours.
        """
        batch, _, size = mapped.shape
        recency = torch.arange(self.window, device=mapped.device).unsqueeze(0)  # (1, m)
        positions = seq_len.unsqueeze(1) - 1 - recency  # (B, m), the latest first
        real = positions >= 0  # seq_len <= L: no position lies past the end of the history
        gathered = mapped.gather(1, positions.clamp(min=0).unsqueeze(-1).expand(-1, -1, size))
        window = (gathered * real.unsqueeze(-1)).reshape(batch, self.window * size)
        hidden = self.dropout(torch.relu(self.hidden(window)))
        term = hidden @ self.output.t()
        # An empty history must stay an empty capsule: the hidden bias alone would move it.
        return (term * (seq_len > 0).unsqueeze(-1)).unsqueeze(1)
