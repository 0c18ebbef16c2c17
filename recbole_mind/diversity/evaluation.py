"""Controllable diversity in evaluation, for every model: keys, item categories, re-ranking.

- Keys (``properties/diversity.yaml``): ``diversity_lambda`` (ComiRec's lambda, 0 = rank by score)
  and ``diversity_category_field`` (the item field holding categories), checked before any data
  loads by ``settings.diversity.read_diversity_params``.
- ``categories.item_categories``: a dataset's token or token_seq item field as ``ItemCategories``.
- :class:`DiversityReranker`: full-sort scores (excluded items at ``-inf``) re-ranked so that the
  top of the list is ComiRec's greedy choice (``serving.diversity.greedy_select``), for RecBole's
  leave-one-out evaluation (``DiverseFullSort``, mixed into ``pipeline.build_trainer``'s trainer)
  and the multi-target protocol (``protocols.targets.rank_catalogue``) alike.

Candidates: for MIND, the union of each active interest's top ``M`` items, scored by the max
over interests (serving's rule); for any other model, the top ``M`` of its full-sort scores.
``M = DIVERSITY_CANDIDATE_FACTOR * N`` with N the longest list evaluated (``max(topk)``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from recbole_mind.diversity.categories import item_categories
from recbole_mind.diversity.greedy import DIVERSITY_CANDIDATE_FACTOR, ItemCategories, greedy_select
from recbole_mind.model.scoring import interest_scores
from recbole_mind.settings.table import validated_once
from recbole_mind.settings.diversity import (
    DiversityParams,
    check_diversity_lambda,
    diversity_metrics_in,
    read_diversity_params,
)

# ------------------------------------------------------------------------------ re-ranking


class DiversityReranker:
    """Full-sort scores re-ranked so that the first ``list_length`` items are the greedy's.

    Called with a batch and its ``(B, n_items)`` scores, excluded items (padding, history) at
    ``-inf``; returns float64 scores where the chosen items, in their order, lie above every
    other item, and the others keep their order below. ``diversity_lambda = 0`` returns the
    scores unchanged.
    """

    def __init__(self, model, categories: ItemCategories, diversity_lambda: float, list_length: int,
                 candidate_factor: int = DIVERSITY_CANDIDATE_FACTOR) -> None:
        self.model = model
        self.categories = categories
        self.diversity_lambda = check_diversity_lambda(diversity_lambda)
        self.list_length = int(list_length)
        self.candidates_per_list = self.list_length * candidate_factor

    def __call__(self, interaction, scores: torch.Tensor) -> torch.Tensor:
        if self.diversity_lambda == 0:
            return scores
        return self.rerank(interaction, scores, self.diversity_lambda)

    @torch.no_grad()
    def candidates(self, interaction, scores: torch.Tensor) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per user ``(item ids, scores)``: each active interest's top ``M`` (MIND with several
        interests), else the top ``M`` of ``scores``; excluded items never."""
        allowed = torch.isfinite(scores)
        m = min(self.candidates_per_list, scores.shape[1])
        per_interest = self._interest_scores(interaction, allowed)
        if per_interest is None:
            values, items = torch.topk(scores, m, dim=1)
        else:
            values, items = torch.topk(per_interest, m, dim=2)
            values, items = values.flatten(1), items.flatten(1)
        # serving's score, the max over interests, read for the candidates only (not the catalogue)
        item_scores = scores.detach().gather(1, items).double().cpu().numpy()
        items, allowed_found = items.cpu().numpy(), torch.isfinite(values).cpu().numpy()
        found = []
        for user_items, user_scores, keep in zip(items, item_scores, allowed_found):
            unique, first = np.unique(user_items[keep], return_index=True)
            found.append((unique, user_scores[keep][first]))
        return found

    def _interest_scores(self, interaction, allowed: torch.Tensor) -> torch.Tensor | None:
        from recbole_mind.model.mind import MIND

        if not isinstance(self.model, MIND) or self.model.interest_num == 1:
            return None
        model = self.model
        interests, capsule_mask = model(interaction[model.ITEM_SEQ], interaction[model.ITEM_SEQ_LEN], interaction)
        per_interest = interest_scores(interests, model.catalogue_vectors(), capsule_mask)
        return per_interest.masked_fill(~allowed.unsqueeze(1), -torch.inf)

    @torch.no_grad()
    def rerank(self, interaction, scores: torch.Tensor, diversity_lambda: float) -> torch.Tensor:
        """The greedy's lists on top of ``scores`` (any ``diversity_lambda``, 0 included)."""
        reranked = scores.detach().double().clone()
        finite = torch.where(torch.isfinite(reranked), reranked, torch.full_like(reranked, -torch.inf))
        tops = finite.max(dim=1).values
        for row, (items, values) in enumerate(self.candidates(interaction, scores)):
            picked = greedy_select(items, values, self.categories, self.list_length, diversity_lambda)
            if len(picked):
                ranks = torch.arange(len(picked), 0, -1, dtype=reranked.dtype, device=reranked.device)
                reranked[row, torch.as_tensor(picked, device=reranked.device)] = tops[row] + ranks
        return reranked


class DiverseFullSort:
    """Mixed into ``pipeline.build_trainer``'s trainer: with ``diversity_lambda > 0`` RecBole's
    full-sort evaluation ranks by :class:`DiversityReranker`; the item categories are also given
    to the Diversity and CategoryCoverage metrics (``recbole_mind.integration.metrics``)."""

    diversity_categories: ItemCategories | None = None
    _diversity_rerankers: dict[int, DiversityReranker] | None = None

    def attach_diversity(self, dataset, metrics: Sequence[str] | None = None) -> DiversityParams:
        """Read the diversity keys and load the categories from ``dataset`` if they are needed
        (fails before training on a bad field)."""
        metrics = self.config["metrics"] if metrics is None else metrics
        params = validated_once(self.config, read_diversity_params, metrics)
        if self.diversity_categories is None and (params.reranks or diversity_metrics_in(metrics)):
            self.diversity_categories = item_categories(dataset, params.category_field)
        collector = getattr(self, "eval_collector", None)
        if collector is not None and self.diversity_categories is not None and hasattr(collector, "set_categories"):
            collector.set_categories(self.diversity_categories)
        return params

    def diversity_reranker(self, list_length: int, dataset=None) -> DiversityReranker | None:
        params = validated_once(self.config, read_diversity_params)
        if not params.reranks:
            return None
        if self.diversity_categories is None:
            self.attach_diversity(dataset)
        self._diversity_rerankers = self._diversity_rerankers or {}
        if list_length not in self._diversity_rerankers:
            self._diversity_rerankers[list_length] = DiversityReranker(
                self.model, self.diversity_categories, params.diversity_lambda, list_length
            )
        return self._diversity_rerankers[list_length]

    def evaluate(self, eval_data, *args: Any, **kwargs: Any):
        dataset = getattr(eval_data, "_dataset", None)
        if dataset is not None:
            if self.diversity_categories is None:
                self.attach_diversity(dataset)
            topk = self.config["topk"]
            self._full_sort_reranker = self.diversity_reranker(max(topk if isinstance(topk, list) else [topk]), dataset)
        return super().evaluate(eval_data, *args, **kwargs)

    def _full_sort_batch_eval(self, batched_data):
        interaction, scores, positive_u, positive_i = super()._full_sort_batch_eval(batched_data)
        reranker = getattr(self, "_full_sort_reranker", None)
        if reranker is not None:
            scores = reranker(interaction.to(self.device), scores)
        return interaction, scores, positive_u, positive_i
