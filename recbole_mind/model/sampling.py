"""Sampled softmax: shared negative sampling and the loss, for catalogues too large for CE.

Shape letters: B batch size, N negatives per batch, d embedding size, n_items catalogue size
(item 0 is RecBole's padding item and is never a candidate).
"""

from __future__ import annotations

import torch
from torch import nn

from recbole_mind.settings.table import SAMPLER_DISTRIBUTIONS



class NegativeSampler(nn.Module):
    """Draws one set of negatives shared by the whole batch, with replacement.

    ``uniform`` draws every real item with the same probability; ``popularity`` draws item
    ``i`` with probability proportional to ``count_i + 1`` (its training frequency, add-one
    smoothed so that every item can be drawn). ``log_q`` gives the log probability of one draw,
    for the log-q correction of sampled softmax.

    Args:
        n_items: catalogue size including the padding item 0.
        distribution: ``"uniform"`` or ``"popularity"``.
        item_counts: ``(n_items,)`` training frequency of each item (popularity only).
    """

    def __init__(
        self, n_items: int, distribution: str = "uniform", item_counts: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        if distribution not in SAMPLER_DISTRIBUTIONS:
            raise ValueError(
                f"negative_sampler must be one of {list(SAMPLER_DISTRIBUTIONS)}, got {distribution!r}"
            )
        if n_items < 2:
            raise ValueError(f"sampled softmax needs at least one real item, got n_items={n_items}")
        self.distribution = distribution
        if distribution == "uniform":
            weights = torch.ones(n_items)
        else:
            if item_counts is None or item_counts.shape != (n_items,):
                raise ValueError("the popularity sampler needs item_counts of shape (n_items,)")
            weights = item_counts.double().clamp(min=0) + 1.0
        weights[0] = 0.0  # padding
        self.register_buffer("probabilities", (weights / weights.sum()).float(), persistent=False)

    def forward(self, num_negatives: int) -> torch.Tensor:
        """``(N,)`` item ids drawn with replacement."""
        if self.distribution == "uniform":
            return torch.randint(
                1, self.probabilities.numel(), (num_negatives,), device=self.probabilities.device
            )
        return torch.multinomial(self.probabilities, num_negatives, replacement=True)

    def log_q(self, item_ids: torch.Tensor) -> torch.Tensor:
        """Log probability of drawing each id in one draw; same shape as ``item_ids``."""
        return torch.log(self.probabilities[item_ids])


def sampled_softmax_loss(
    user_vectors: torch.Tensor,
    pos_emb: torch.Tensor,
    pos_ids: torch.Tensor,
    neg_emb: torch.Tensor,
    neg_ids: torch.Tensor,
    pos_log_q: torch.Tensor | None = None,
    neg_log_q: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean cross-entropy of each positive against the shared negatives.

    Each row's candidates are its positive and the ``N`` shared negatives; a negative equal to
    the row's positive (an accidental hit) is removed from that row. With log-q correction,
    ``log Q(i)`` is subtracted from every candidate's logit, which makes the sampled softmax an
    unbiased estimate of the full one. With all real items as negatives, no correction and
    accidental hits removed, the loss equals full-softmax CE over the real items (padding
    excluded).

    Args:
        user_vectors: ``(B, d)``.
        pos_emb: ``(B, d)`` embeddings of the positives.
        pos_ids: ``(B,)``.
        neg_emb: ``(N, d)``.
        neg_ids: ``(N,)``.
        pos_log_q: ``(B,)`` or None.
        neg_log_q: ``(N,)`` or None.

    Returns:
        Scalar loss. One ``(B x N)`` matmul.
    """
    pos_logits = (user_vectors * pos_emb).sum(dim=-1)  # (B,)
    neg_logits = user_vectors @ neg_emb.t()  # (B, N)
    return sampled_softmax_from_logits(pos_logits, pos_ids, neg_logits, neg_ids, pos_log_q, neg_log_q)


def sampled_softmax_from_logits(
    pos_logits: torch.Tensor,
    pos_ids: torch.Tensor,
    neg_logits: torch.Tensor,
    neg_ids: torch.Tensor,
    pos_log_q: torch.Tensor | None = None,
    neg_log_q: torch.Tensor | None = None,
) -> torch.Tensor:
    """:func:`sampled_softmax_loss` from scores already computed.

    Args:
        pos_logits: ``(B,)`` score of each row's positive.
        pos_ids: ``(B,)``.
        neg_logits: ``(B, N)`` scores of the shared negatives.
        neg_ids: ``(N,)``.
        pos_log_q: ``(B,)`` or None.
        neg_log_q: ``(N,)`` or None.
    """
    pos_logits = pos_logits.unsqueeze(1)  # (B, 1)
    if pos_log_q is not None and neg_log_q is not None:
        pos_logits = pos_logits - pos_log_q.unsqueeze(1)
        neg_logits = neg_logits - neg_log_q.unsqueeze(0)
    accidental_hits = neg_ids.unsqueeze(0) == pos_ids.unsqueeze(1)
    neg_logits = neg_logits.masked_fill(accidental_hits, float("-inf"))
    logits = torch.cat([pos_logits, neg_logits], dim=1)
    targets = torch.zeros(logits.size(0), dtype=torch.long, device=logits.device)
    return nn.functional.cross_entropy(logits, targets)
