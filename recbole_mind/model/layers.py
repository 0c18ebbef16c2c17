"""Reusable MIND layers: B2I dynamic routing and label-aware attention.

Shape letters used throughout:
    B  batch size
    L  history length (``MAX_ITEM_LIST_LENGTH``)
    K  maximum number of interests (``interest_num``)
    d  embedding size

Histories are left-aligned as RecBole builds them: the real behaviours sit at
positions ``0 .. length - 1`` and padding follows.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from recbole_mind.settings.table import ROUTING_SOFTMAX_AXES



def squash(vectors: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """Capsule non-linearity ``|z|^2 / (1 + |z|^2) * z / |z|`` along the last axis.

    Written as ``z * |z| / (1 + |z|^2)`` with ``|z| = sqrt(|z|^2 + eps)``, which is the same
    value for ``z != 0`` and stays finite (zero, with a finite gradient) at ``z = 0``.

    Args:
        vectors: ``(..., d)``.

    Returns:
        ``(..., d)``, each vector scaled to a norm in ``[0, 1)``.
    """
    squared_norm = vectors.pow(2).sum(dim=-1, keepdim=True)
    return vectors * torch.sqrt(squared_norm + eps) / (1.0 + squared_norm)


def dynamic_interest_num(seq_len: torch.Tensor, interest_num: int) -> torch.Tensor:
    """Number of active interests ``K'_u = max(1, min(K, floor(log2 |I_u|)))``.

    Args:
        seq_len: ``(B,)`` integer count of real (non-padding) behaviours.
        interest_num: ``K``.

    Returns:
        ``(B,)`` long tensor with values in ``[1, K]``.
    """
    # log2(n + 0.5) has the same floor as log2(n) for every integer n >= 1, and keeps exact
    # powers of two away from float rounding (log2(8) computed as 2.9999999 would floor to 2).
    log_len = torch.floor(torch.log2(seq_len.clamp(min=1).double() + 0.5)).long()
    return log_len.clamp(min=1, max=interest_num)


def interest_mask(active_num: torch.Tensor, interest_num: int) -> torch.Tensor:
    """Boolean mask of active capsules.

    Args:
        active_num: ``(B,)`` number of active interests per sample (``K'_u``).
        interest_num: ``K``.

    Returns:
        ``(B, K)``; ``True`` for capsules ``j < K'_u``.
    """
    positions = torch.arange(interest_num, device=active_num.device)
    return positions.unsqueeze(0) < active_num.unsqueeze(1)


def interest_mlp(in_size: int, hidden_sizes: tuple[int, ...], out_size: int, dropout_prob: float) -> nn.Sequential:
    """Capsule (+ tiled profile) -> interest vector, ``(..., in_size) -> (..., out_size)``: ReLU
    hidden layers (each followed by dropout), then a linear map."""
    layers: list[nn.Module] = []
    for hidden_size in hidden_sizes:
        layers += [nn.Linear(in_size, hidden_size), nn.ReLU(), nn.Dropout(dropout_prob)]
        in_size = hidden_size
    layers.append(nn.Linear(in_size, out_size))
    return nn.Sequential(*layers)


class B2IRouting(nn.Module):
    """Behaviour-to-interest dynamic routing (MIND, Li et al., CIKM 2019, section 4.2).

    One bilinear map ``S`` (``d x d``) is shared by all behaviour/interest pairs. Routing
    logits are drawn from ``N(0, logit_std^2)`` for every sample at every training forward
    pass: with a shared ``S`` an all-zero start would make every capsule identical. In eval
    mode the logits come from a fixed draw stored as a buffer (``eval_routing_logits``), so
    the same history always yields the same interests and served interests can be cached.

    Routing weights are a softmax over the interest axis (each behaviour distributes itself
    over the interests) or, with ``softmax_axis="behaviour"``, over the history axis. Padded
    behaviours and inactive capsules always get weight zero. As in ComiRec, DeepMatch and
    TorchEasyRec, the logits carry no gradient: the capsules of the last iteration are the
    only path from the output back to ``S`` and the embeddings.

    Args:
        embedding_size: ``d``.
        interest_num: ``K``.
        routing_times: number of routing iterations (>= 1).
        max_seq_length: longest history the eval-mode logits cover (``L``).
        logit_std: standard deviation of the initial routing logits.
        softmax_axis: ``"interest"`` or ``"behaviour"``.
        eval_seed: seed of the fixed eval-mode draw.
    """

    def __init__(
        self,
        embedding_size: int,
        interest_num: int,
        routing_times: int = 3,
        max_seq_length: int = 50,
        logit_std: float = 1.0,
        softmax_axis: str = "interest",
        eval_seed: int = 0,
    ) -> None:
        super().__init__()
        if softmax_axis not in ROUTING_SOFTMAX_AXES:
            raise ValueError(
                f"softmax_axis must be one of {ROUTING_SOFTMAX_AXES}, got {softmax_axis!r}"
            )
        self.interest_num = interest_num
        self.routing_times = routing_times
        self.logit_std = logit_std
        self.softmax_axis = softmax_axis
        self.bilinear = nn.Linear(embedding_size, embedding_size, bias=False)
        generator = torch.Generator().manual_seed(eval_seed)
        self.register_buffer(
            "eval_routing_logits",
            torch.randn(1, interest_num, max_seq_length, generator=generator) * logit_std,
        )

    def initial_logits(self, batch_size: int, seq_length: int, device: torch.device) -> torch.Tensor:
        """Routing logits ``(B, K, L)`` to start from: fresh Gaussian in training, fixed in eval."""
        if self.training:
            shape = (batch_size, self.interest_num, seq_length)
            return torch.randn(shape, device=device) * self.logit_std
        if seq_length > self.eval_routing_logits.size(-1):
            raise ValueError(
                f"history length {seq_length} exceeds the {self.eval_routing_logits.size(-1)} "
                "positions this routing layer was built for (MAX_ITEM_LIST_LENGTH)"
            )
        return self.eval_routing_logits[:, :, :seq_length].expand(batch_size, -1, -1)

    def routing_weights(
        self, logits: torch.Tensor, behaviour_mask: torch.Tensor, capsule_mask: torch.Tensor
    ) -> torch.Tensor:
        """Coupling coefficients ``w`` ``(B, K, L)`` from logits ``(B, K, L)``.

        Masked entries (padded behaviour or inactive capsule) are exactly zero.
        """
        valid = capsule_mask.unsqueeze(2) & behaviour_mask.unsqueeze(1)
        axis = 1 if self.softmax_axis == "interest" else 2
        # A finite floor, not -inf: a fully masked row then gives finite weights (zeroed below)
        # instead of NaN.
        weights = torch.softmax(logits.masked_fill(~valid, torch.finfo(logits.dtype).min), dim=axis)
        # A fully masked softmax row is NaN (padding column, or an empty history); zero it.
        return torch.where(valid, weights, torch.zeros_like(weights))

    def forward(
        self,
        behaviour_emb: torch.Tensor,
        behaviour_mask: torch.Tensor,
        capsule_mask: torch.Tensor,
        logits: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Route behaviours into interest capsules.

        Args:
            behaviour_emb: ``(B, L, d)`` history embeddings.
            behaviour_mask: ``(B, L)`` bool, ``True`` for real behaviours.
            capsule_mask: ``(B, K)`` bool, ``True`` for active capsules.
            logits: optional ``(B, K, L)`` initial routing logits; by default
                :meth:`initial_logits`. Used by tests and for explanations.

        Returns:
            capsules: ``(B, K, d)``, inactive capsules are zero.
            weights: ``(B, K, L)`` routing weights of the last iteration.
        """
        return self.route_mapped(self.bilinear(behaviour_emb), behaviour_mask, capsule_mask, logits)

    def route_mapped(
        self,
        mapped: torch.Tensor,
        behaviour_mask: torch.Tensor,
        capsule_mask: torch.Tensor,
        logits: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward` for behaviours already mapped by ``S``: ``mapped`` is ``(B, L, d)``.

        A caller that maps a small catalogue once per batch (``S`` applied to ``N`` items
        instead of ``B x L`` positions) routes the gathered rows here.
        """
        batch_size, seq_length, _ = mapped.shape
        if logits is None:
            logits = self.initial_logits(batch_size, seq_length, mapped.device)
        logits = logits.detach()
        mapped_fixed = mapped.detach()
        for iteration in range(self.routing_times):
            weights = self.routing_weights(logits, behaviour_mask, capsule_mask)
            if iteration == self.routing_times - 1:
                capsules = squash(torch.bmm(weights, mapped))  # (B, K, d)
            else:
                capsules = squash(torch.bmm(weights, mapped_fixed))
                logits = logits + torch.bmm(capsules, mapped_fixed.transpose(1, 2))
        # Inactive capsules received zero weight from every behaviour, so they are zero.
        return capsules, weights


class LabelAwareAttention(nn.Module):
    """Label-aware attention ``v_u = V_u softmax(pow(V_u^T e_t, p))`` (training only).

    ``pow(x, p)`` is undefined for negative ``x`` and non-integer ``p``. We read it as raising
    each exponentiated similarity to the power ``p``: ``exp(x_k)^p / sum_j exp(x_j)^p``, i.e.
    ``softmax(p * x)``. This equals the paper's formula at ``p = 1``, tends to uniform weights
    as ``p -> 0`` and to hard attention as ``p -> inf``, exactly the behaviour the paper
    describes, and it is defined for every real logit. ``p = inf`` is hard attention: the
    active interest with the largest logit gets weight 1 (the first one on ties).
    Inactive capsules always get weight 0.

    Args:
        attention_power: ``p > 0``; ``float("inf")`` for hard attention.
    """

    def __init__(self, attention_power: float = 1.0) -> None:
        super().__init__()
        if not attention_power > 0:
            raise ValueError(f"attention_power must be > 0, got {attention_power!r}")
        self.attention_power = float(attention_power)

    def attention_weights(
        self, interests: torch.Tensor, target_emb: torch.Tensor, capsule_mask: torch.Tensor
    ) -> torch.Tensor:
        """Weights ``(B, K)`` over the interests.

        Args:
            interests: ``(B, K, d)``.
            target_emb: ``(B, d)``.
            capsule_mask: ``(B, K)`` bool.
        """
        logits = torch.bmm(interests, target_emb.unsqueeze(-1)).squeeze(-1)  # (B, K)
        if math.isinf(self.attention_power):
            masked = logits.masked_fill(~capsule_mask, float("-inf"))
            index = masked.argmax(dim=1)
            return nn.functional.one_hot(index, logits.size(1)).to(logits.dtype)
        scaled = logits * self.attention_power
        limit = torch.finfo(scaled.dtype).max
        # A huge p can overflow p * x to inf, and inf - inf is NaN inside softmax.
        scaled = scaled.clamp(min=-limit, max=limit).masked_fill(~capsule_mask, float("-inf"))
        return torch.softmax(scaled, dim=1)

    def forward(
        self, interests: torch.Tensor, target_emb: torch.Tensor, capsule_mask: torch.Tensor
    ) -> torch.Tensor:
        """User vector ``(B, d)`` for the target item; arguments as :meth:`attention_weights`."""
        weights = self.attention_weights(interests, target_emb, capsule_mask)
        return torch.bmm(weights.unsqueeze(1), interests).squeeze(1)
