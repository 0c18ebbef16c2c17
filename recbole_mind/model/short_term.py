"""The preset's short-term interest: a capsule of the latest behaviours, next to the routed ones.

B2I routing pools a history without order, so a long window drowns the few recent behaviours
that predict the next item best (docs/tuning.md). With ``short_term_window: m`` interest 0
pools the ``m`` latest behaviours instead of being routed:

- :func:`recency_index`: how far each behaviour lies from the most recent one;
- :func:`real_positions`: which positions hold real behaviours (the rest is padding);
- :func:`recent_behaviour_weights`: the fixed weights of a capsule that pools the ``m`` most
  recent behaviours;
- :class:`RecencyWeights`: a learned weight per recency position of that window instead
  (``short_term_recency_weights``).

Shape letters as in :mod:`recbole_mind.model.layers` (B batch, L history length, K interests, d
embedding size). Histories are left-aligned: the most recent behaviour sits at
``length - 1``.
"""

from __future__ import annotations

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


class RecencyWeights(nn.Module):
    """The short-term capsule's weight per recency position of its ``window`` behaviours.

    With ``learned`` (``short_term_recency_weights``) they are parameters starting at 1, which
    is :func:`recent_behaviour_weights`; training can then favour the latest behaviours (or any
    position) over the rest of the window. Without, they stay 1: the plain window.

    Args:
        window: ``m``, the number of latest behaviours pooled.
        learned: train the weights.
    """

    def __init__(self, window: int, learned: bool = True) -> None:
        super().__init__()
        if learned:
            self.weight = nn.Parameter(torch.ones(window))
        else:
            self.register_buffer("weight", torch.ones(window), persistent=False)

    def forward(self, seq_len: torch.Tensor, seq_length: int) -> torch.Tensor:
        """Weights ``(B, 1, L)``: ``weight[r]`` at the behaviour of recency ``r < m``, 0 elsewhere."""
        window = self.weight.numel()
        recent = recent_behaviour_weights(seq_len, seq_length, window)  # (B, 1, L) of 0/1
        recency = recency_index(seq_len, seq_length).clamp(max=window - 1)
        return recent * self.weight[recency].unsqueeze(1)
