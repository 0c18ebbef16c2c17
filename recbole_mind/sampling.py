"""Sampled softmax: shared negative sampling and the loss, for catalogues too large for CE;
REMI's hardness weights of the negatives, for the sampled and the full softmax.

Shape letters: B batch size, N negatives per batch, d embedding size, n_items catalogue size
(item 0 is RecBole's padding item and is never a candidate).
"""

from __future__ import annotations

import torch
from torch import nn

SAMPLER_DISTRIBUTIONS = ("uniform", "popularity")


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
    hard_negative_beta: float = 0.0,
) -> torch.Tensor:
    """Mean cross-entropy of each positive against the shared negatives.

    Each row's candidates are its positive and the ``N`` shared negatives; a negative equal to
    the row's positive (an accidental hit) is removed from that row. With log-q correction,
    ``log Q(i)`` is subtracted from every candidate's logit, which makes the sampled softmax an
    unbiased estimate of the full one. With all real items as negatives, no correction and
    accidental hits removed, the loss equals full-softmax CE over the real items (padding
    excluded). ``hard_negative_beta > 0`` weighs the negatives by hardness
    (:func:`hard_negative_log_weights`).

    Args:
        user_vectors: ``(B, d)``.
        pos_emb: ``(B, d)`` embeddings of the positives.
        pos_ids: ``(B,)``.
        neg_emb: ``(N, d)``.
        neg_ids: ``(N,)``.
        pos_log_q: ``(B,)`` or None.
        neg_log_q: ``(N,)`` or None.
        hard_negative_beta: REMI's ``beta`` (0: every negative weighs the same).

    Returns:
        Scalar loss. One ``(B x N)`` matmul.
    """
    pos_logits = (user_vectors * pos_emb).sum(dim=-1)  # (B,)
    neg_logits = user_vectors @ neg_emb.t()  # (B, N)
    return sampled_softmax_from_logits(
        pos_logits, pos_ids, neg_logits, neg_ids, pos_log_q, neg_log_q, hard_negative_beta
    )


def sampled_softmax_from_logits(
    pos_logits: torch.Tensor,
    pos_ids: torch.Tensor,
    neg_logits: torch.Tensor,
    neg_ids: torch.Tensor,
    pos_log_q: torch.Tensor | None = None,
    neg_log_q: torch.Tensor | None = None,
    hard_negative_beta: float = 0.0,
) -> torch.Tensor:
    """:func:`sampled_softmax_loss` from scores already computed.

    Args:
        pos_logits: ``(B,)`` score of each row's positive.
        pos_ids: ``(B,)``.
        neg_logits: ``(B, N)`` scores of the shared negatives.
        neg_ids: ``(N,)``.
        pos_log_q: ``(B,)`` or None.
        neg_log_q: ``(N,)`` or None.
        hard_negative_beta: REMI's ``beta`` (0: every negative weighs the same).
    """
    pos_logits = pos_logits.unsqueeze(1)  # (B, 1)
    # Hardness is the model's own score, before the log-q correction (which is about how the
    # negatives were drawn, not how hard they are).
    scores = neg_logits
    if pos_log_q is not None and neg_log_q is not None:
        pos_logits = pos_logits - pos_log_q.unsqueeze(1)
        neg_logits = neg_logits - neg_log_q.unsqueeze(0)
    accidental_hits = neg_ids.unsqueeze(0) == pos_ids.unsqueeze(1)
    neg_logits = neg_logits.masked_fill(accidental_hits, float("-inf"))
    if hard_negative_beta > 0:
        sampler_log_q = neg_log_q if pos_log_q is not None else None  # None: no correction
        log_weights = hard_negative_log_weights(scores, ~accidental_hits, hard_negative_beta, sampler_log_q)
        neg_logits = neg_logits + log_weights
    logits = torch.cat([pos_logits, neg_logits], dim=1)
    targets = torch.zeros(logits.size(0), dtype=torch.long, device=logits.device)
    return nn.functional.cross_entropy(logits, targets)


def hard_negative_log_weights(
    scores: torch.Tensor, negatives: torch.Tensor, beta: float, neg_log_q: torch.Tensor | None = None
) -> torch.Tensor:
    """Log importance weights of REMI's interest-aware hard negatives (Xie et al., RecSys 2023).

    REMI draws negatives from ``q_beta(j) ~ exp(beta * s_j)`` instead of uniformly, so that
    negatives close to the user's interests dominate the softmax's denominator, and approximates
    those draws by weighting the negatives it has: ``w_j = exp(beta s_j) / Z`` with ``Z`` the mean
    of ``exp(beta s)`` over the catalogue, estimated on each row's negatives (so ``Z`` keeps the
    denominator's scale). Negatives drawn from a sampler's ``Q`` (``neg_log_q``) estimate that
    mean by importance sampling, each weighing ``1 / Q(j)``; without ``neg_log_q`` it is their
    plain mean, as in REMI's uniform sampling. Adding ``log w_j`` to each negative's logit applies
    the weights. They are detached: they stand for a sampling distribution, which no gradient
    flows through. ``beta = 0`` gives ``log w = 0`` (the plain softmax), and the loss can only
    grow with ``beta`` (the weights rise with the score).

    Args:
        scores: ``(B, N)`` the model's scores of the negatives (before any log-q correction).
        negatives: ``(B, N)`` bool, ``False`` where an entry is not a negative of its row.
        beta: ``>= 0``.
        neg_log_q: ``(N,)`` log probability of drawing each negative, or None.

    Returns:
        ``(B, N)``: ``log w_j`` for negatives, ``-inf`` elsewhere (also on a row without any).
    """
    hardness = beta * scores.detach()
    # log(1 / Q(j)) of each negative, -inf for entries that are not negatives
    if neg_log_q is None:
        log_inverse_q = torch.zeros_like(hardness)
    else:
        log_inverse_q = -neg_log_q.to(hardness.dtype).expand_as(hardness)
    log_inverse_q = log_inverse_q.masked_fill(~negatives, float("-inf"))
    log_mean = torch.logsumexp(hardness + log_inverse_q, dim=1, keepdim=True) - torch.logsumexp(
        log_inverse_q, dim=1, keepdim=True
    )
    log_weights = hardness - log_mean
    return log_weights.masked_fill(~negatives | ~torch.isfinite(log_weights), float("-inf"))


def hard_negative_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, beta: float) -> torch.Tensor:
    """Full-softmax cross-entropy with every non-target item weighted by hardness.

    Args:
        logits: ``(B, n_items)`` scores of every item.
        targets: ``(B,)`` item ids.
        beta: REMI's ``beta`` (:func:`hard_negative_log_weights`); 0 gives the plain
            ``cross_entropy(logits, targets)``.
    """
    negatives = torch.ones_like(logits, dtype=torch.bool)
    negatives[torch.arange(logits.size(0), device=logits.device), targets] = False
    log_weights = hard_negative_log_weights(logits, negatives, beta).masked_fill(~negatives, 0.0)
    return nn.functional.cross_entropy(logits + log_weights, targets)
