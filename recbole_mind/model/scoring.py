"""Scoring items by a user's interests: the serving rule ``max_k e_i . v_u^k`` and the
per-interest products that training shares between its losses.

Shape letters as in :mod:`recbole_mind.model.layers`: ``B`` batch, ``K`` interests, ``d`` embedding
size, ``N`` items scored.
"""

from __future__ import annotations

import torch


def interest_scores(
    interests: torch.Tensor, item_emb: torch.Tensor, capsule_mask: torch.Tensor
) -> torch.Tensor:
    """Each interest's inner product with each item, ``-inf`` for the inactive interests.

    Args:
        interests: ``(B, K, d)``.
        item_emb: ``(N, d)`` items scored for every user (full sort), or ``(B, N, d)`` items
            of each user (``predict`` passes ``N = 1``).
        capsule_mask: ``(B, K)`` bool.

    Returns:
        ``(B, K, N)`` scores.
    """
    # The mask enters as the (B, K, 1) term of one addmm, not a masked_fill of the (B, K, N)
    # product: a tensor of that size fewer in the forward and the backward (with the full
    # softmax these copies cost more than the product itself on CPU).
    mask_bias = torch.zeros_like(capsule_mask, dtype=interests.dtype).masked_fill(~capsule_mask, float("-inf"))
    if item_emb.dim() == 3:
        return torch.baddbmm(mask_bias.unsqueeze(-1), interests, item_emb.transpose(1, 2))
    batch_size, interest_num, dim = interests.shape
    flat = torch.addmm(mask_bias.reshape(-1, 1), interests.reshape(-1, dim), item_emb.t())
    return flat.view(batch_size, interest_num, -1)


class _MaxAndFirst(torch.autograd.Function):
    """The max over dim 1 of ``(B, K, N)`` scores and their row 0; the backward writes both
    outputs' gradients into one ``(B, K, N)`` tensor, where autograd's own max and select
    would each allocate one and then add them."""

    @staticmethod
    def forward(ctx, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        best, winner = scores.max(dim=1)
        ctx.save_for_backward(winner)
        ctx.scores_shape = scores.shape
        return best, scores[:, 0].clone()

    @staticmethod
    def backward(ctx, best_grad: torch.Tensor, first_grad: torch.Tensor) -> torch.Tensor:
        (winner,) = ctx.saved_tensors
        grad = best_grad.new_zeros(ctx.scores_shape)
        grad.scatter_(1, winner.unsqueeze(1), best_grad.unsqueeze(1))
        grad[:, 0] += first_grad
        return grad


def max_and_first_scores(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(scores.max(dim=1).values, scores[:, 0])`` of ``(B, K, N)`` scores (:func:`interest_scores`),
    with one ``(B, K, N)`` gradient instead of two: the training score and the short-term
    interest's own (interest 0) from one product."""
    return _MaxAndFirst.apply(scores)


def max_interest_scores(
    interests: torch.Tensor, item_emb: torch.Tensor, capsule_mask: torch.Tensor
) -> torch.Tensor:
    """Serving score ``max_k e_i . v_u^k`` over the active interests: the one scoring rule of
    ``predict``, ``full_sort_predict``, retrieval's exact check and explanations; training with
    ``training_score: max`` takes the same max of :func:`interest_scores` (with the short-term
    interest's own scores, :func:`max_and_first_scores`).

    Args:
        interests: ``(B, K, d)``.
        item_emb: ``(N, d)`` or ``(B, N, d)``, as :func:`interest_scores`'.
        capsule_mask: ``(B, K)`` bool.

    Returns:
        ``(B, N)`` scores.
    """
    return interest_scores(interests, item_emb, capsule_mask).max(dim=1).values
