"""MIND: Multi-Interest Network with Dynamic Routing (Li et al., CIKM 2019) for RecBole."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.init import xavier_normal_

from recbole.model.abstract_recommender import SequentialRecommender
from recbole.utils import FeatureSource, InputType

from recbole_mind.model.features import FieldEmbedding, ItemEncoder, check_fields
from recbole_mind.model.layers import (
    B2IRouting,
    LabelAwareAttention,
    dynamic_interest_num,
    interest_mask,
    interest_mlp,
    squash,
)
from recbole_mind.model.params import read_mind_params
from recbole_mind.settings.table import validated_once
from recbole_mind.model.sampling import NegativeSampler, sampled_softmax_from_logits
from recbole_mind.model.scoring import interest_scores, max_and_first_scores, max_interest_scores
from recbole_mind.model.short_term import RecencyWeights


def _each_head(scores: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(B, H, N)`` scores of ``H`` training vectors -> ``H`` softmax logits ``(B, N)``."""
    return scores.unbind(dim=1)


def _best_interest(scores: torch.Tensor) -> tuple[torch.Tensor]:
    """``(B, K, N)`` scores of the interests -> the serving rule's logits ``(B, N)``."""
    return (scores.max(dim=1).values,)


class MIND(SequentialRecommender):
    r"""MIND turns a user's history into ``K`` interest vectors by B2I dynamic routing.

    Training picks, for each target item, a mix of the user's interests by label-aware
    attention and scores it against all items with a full softmax (``loss_type: CE``) or
    against a shared sample of negatives (``loss_type: SSM``, sampled softmax).
    Serving and evaluation drop the attention: an item's score is its best inner product
    with any active interest, ``max_k e_i . v_u^k``. Keys and defaults: ``properties/MIND.yaml``.

    The recommended preset (``properties/presets/MIND-recommended.yaml``) adds, all off in the
    paper's MIND: a short-term interest 0 that pools the latest behaviours with learned recency
    weights and is trained on its own softmax too, training scored by the serving rule
    (``training_score: max``), and cosine scores (``cosine_temperature``).
    """

    input_type = InputType.POINTWISE

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        params = validated_once(config, read_mind_params)  # checked when the config was built
        # The paper's MIND.
        self.embedding_size = params.embedding_size
        self.interest_num = params.interest_num
        self.loss_type = params.loss_type
        # K'_u of every history length 0..L: a lookup instead of a log2 per batch
        lengths = torch.arange(self.max_seq_length + 1)
        if params.dynamic_interest:
            active_num = dynamic_interest_num(lengths, self.interest_num)
        else:
            active_num = torch.full_like(lengths, self.interest_num)
        self.register_buffer("active_interest_num", active_num, persistent=False)
        item_fields = check_fields(dataset, params.item_feature_fields, "item_feature_fields", FeatureSource.ITEM)
        user_fields = check_fields(dataset, params.user_profile_fields, "user_profile_fields", FeatureSource.USER)
        self.cosine_temperature = params.cosine_temperature  # the preset's; 0 in the paper
        self.item_encoder = ItemEncoder(
            dataset, item_fields, self.n_items, self.embedding_size,
            sparse=params.sparse_item_embedding, normalize=self.cosine_temperature > 0,
        )
        self.user_profile = FieldEmbedding(dataset, user_fields, self.embedding_size) if user_fields else None
        self.emb_dropout = nn.Dropout(params.dropout_prob)
        # With the preset's short-term interest (interest 0), routing builds the other K - 1.
        self.short_term_window = params.short_term_window
        self.routed_num = self.interest_num - (1 if self.short_term_window else 0)
        self.routing = B2IRouting(
            embedding_size=self.embedding_size,
            interest_num=max(self.routed_num, 1),
            routing_times=params.routing_times,
            max_seq_length=self.max_seq_length,
            logit_std=params.routing_logit_std,
            softmax_axis=params.routing_softmax_axis,
            eval_seed=config["seed"] or 0,
        )
        in_size = self.embedding_size * (1 + len(user_fields))  # capsule + tiled profile
        mlp_args = (in_size, params.interest_mlp_hidden_sizes, self.embedding_size, params.dropout_prob)
        self.interest_mlp = interest_mlp(*mlp_args)
        self.attention = LabelAwareAttention(params.attention_power)
        if self.loss_type == "SSM":
            item_counts = torch.zeros(self.n_items)
            for item, count in dataset.item_counter.items():
                item_counts[int(item)] = count
            self.negative_sampler = NegativeSampler(self.n_items, params.negative_sampler, item_counts)
            self.num_negatives = params.num_negatives
            self.logq_correction = params.logq_correction
        else:
            self.loss_fct = nn.CrossEntropyLoss()

        # The preset's additions. Interest 0 pools the latest behaviours, weighed by position
        # (learned, or 1 each), and gets an MLP of its own, so that serving's max over interests
        # can weigh it against the routed ones (a shared map scales them all alike).
        self.short_term_weights = (
            RecencyWeights(self.short_term_window, learned=params.short_term_recency_weights)
            if self.short_term_window else None
        )
        self.short_term_mlp = interest_mlp(*mlp_args) if self.short_term_window and self.routed_num > 0 else None
        self.training_score = params.training_score
        # With no routed interests the short-term one's loss is the whole loss already.
        self.short_term_loss_weight = params.short_term_loss_weight if self.interest_num > 1 else 0.0
        # Training's softmax losses (the training score's, then the short-term interest's) and
        # their weights; their scores come from one product (max_and_first_scores under max).
        self.loss_weights = (1.0, self.short_term_loss_weight) if self.short_term_loss_weight else (1.0,)
        if self.training_score == "attention":
            self.head_scores = _each_head
        else:
            self.head_scores = _best_interest if len(self.loss_weights) == 1 else max_and_first_scores
        # Training's logits are scores / this: the cosines / T, or the paper's inner products.
        self.logit_temperature = self.cosine_temperature or 1.0

        # Eval-mode cache of the catalogue's vectors: full_sort_predict computes them once per
        # evaluation instead of once per batch. It is dropped by train()/eval() (RecBole's
        # evaluate calls eval() first, after loading the best weights) and by _apply (.to(),
        # .double(), ...), and keyed by the parameters' versions (optimizer steps,
        # load_state_dict). A write through .data bumps no version: call eval() after one.
        self._item_vectors_cache: tuple[tuple[int, ...], torch.Tensor] | None = None

        for module in self.modules():
            if isinstance(module, (nn.Embedding, nn.Linear)):
                xavier_normal_(module.weight)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor, interaction=None) -> tuple[torch.Tensor, ...]:
        """Interests ``(B, K, d)`` (inactive ones zero) and capsule mask ``(B, K)`` (``True``: active)
        of each user; arguments as :meth:`interests_and_routing_weights`'."""
        return self.interests_and_routing_weights(item_seq, item_seq_len, interaction)[:2]

    def interests_and_routing_weights(
        self, item_seq: torch.Tensor, item_seq_len: torch.Tensor, interaction=None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Interests of each user, and how their history made them (for explanations).

        Args:
            item_seq: ``(B, L)`` item ids, 0 for padding.
            item_seq_len: ``(B,)`` number of real behaviours.
            interaction: the batch, for the user profile fields (needed when configured).

        Returns:
            interests: ``(B, K, d)``, inactive interests are zero.
            capsule_mask: ``(B, K)`` bool, ``True`` for active interests.
            routing_weights: ``(B, K, L)`` of the last routing iteration.
        """
        capsule_mask = interest_mask(self.active_interest_num[item_seq_len], self.interest_num)
        mapped = self._mapped_behaviours(item_seq)
        capsules, routing_weights = self._capsules(mapped, item_seq != 0, item_seq_len, capsule_mask)
        if self.user_profile is not None:
            profile = self.user_profile(interaction).flatten(start_dim=1)  # (B, F * d)
            tiled = profile.unsqueeze(1).expand(-1, self.interest_num, -1)
            capsules = torch.cat([capsules, tiled], dim=-1)
        if self.short_term_mlp is None:
            interests = self.interest_mlp(capsules)
        else:
            interests = torch.cat([self.short_term_mlp(capsules[:, :1]), self.interest_mlp(capsules[:, 1:])], dim=1)
        if self.cosine_temperature:
            interests = F.normalize(interests, dim=-1)
        return interests * capsule_mask.unsqueeze(-1), capsule_mask, routing_weights

    def _mapped_behaviours(self, item_seq: torch.Tensor) -> torch.Tensor:
        """``S e_i`` for every behaviour: ``(B, L, d)``."""
        sparse_table = self.item_encoder.id_embedding.sparse  # needs row gradients, not the table's
        if self.emb_dropout.p == 0 and not sparse_table and self.n_items <= item_seq.numel():
            # S is linear: mapping the catalogue once and gathering rows gives the same vectors
            # at a fraction of the cost when the batch holds more positions than there are items
            # (in eval mode from the catalogue cache that full_sort_predict fills anyway).
            return self.routing.bilinear(self.catalogue_vectors())[item_seq]
        return self.routing.bilinear(self.emb_dropout(self.item_encoder(item_seq)))

    def _capsules(self, mapped, behaviour_mask, item_seq_len, capsule_mask):
        """Capsules ``(B, K, d)`` and routing weights ``(B, K, L)``: routed (the paper), or the
        preset's short-term capsule followed by the routed ones."""
        if not self.short_term_window:
            return self.routing.route_mapped(mapped, behaviour_mask, capsule_mask)
        recent = self.short_term_weights(item_seq_len, mapped.size(1))  # (B, 1, L)
        short_term = squash(torch.bmm(recent, mapped))  # (B, 1, d)
        if self.routed_num == 0:
            return short_term, recent
        routed, weights = self.routing.route_mapped(mapped, behaviour_mask, capsule_mask[:, 1:])
        return torch.cat([short_term, routed], dim=1), torch.cat([recent, weights], dim=1)

    def calculate_loss(self, interaction):
        interests, capsule_mask = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], interaction)
        pos_items = interaction[self.POS_ITEM_ID]
        pos_emb = self.item_encoder(pos_items)
        vectors, mask = self._scoring_vectors(interests, capsule_mask, pos_emb)
        if self.loss_type == "CE":
            heads = self.head_scores(interest_scores(vectors, self.item_encoder.all_items(), mask))
            losses = [self.loss_fct(logits, pos_items) for logits in heads]
        else:
            neg_items = self.negative_sampler(self.num_negatives)
            log_q = (None, None)
            if self.logq_correction:
                log_q = (self.negative_sampler.log_q(pos_items), self.negative_sampler.log_q(neg_items))
            pos_heads = self.head_scores(interest_scores(vectors, pos_emb.unsqueeze(1), mask))
            neg_heads = self.head_scores(interest_scores(vectors, self.item_encoder(neg_items), mask))
            losses = [
                sampled_softmax_from_logits(pos_logits.squeeze(1), pos_items, neg_logits, neg_items, *log_q)
                for pos_logits, neg_logits in zip(pos_heads, neg_heads)
            ]
        return sum(weight * loss for weight, loss in zip(self.loss_weights, losses))

    def _scoring_vectors(
        self, interests: torch.Tensor, capsule_mask: torch.Tensor, pos_emb: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, H, d)`` vectors that training scores items with, over its logit temperature, and
        their ``(B, H)`` mask: the label-aware mix of the interests for the target (the paper),
        then the short-term interest with ``short_term_loss_weight``; or the interests themselves
        under ``training_score: max``. ``(B, H, d)`` products are cheaper to scale than scores."""
        if self.training_score == "max":
            return interests / self.logit_temperature, capsule_mask
        vectors = self.attention(interests, pos_emb, capsule_mask).unsqueeze(1)
        if self.short_term_loss_weight:
            vectors = torch.cat([vectors, interests[:, :1]], dim=1)
        mask = torch.ones(vectors.shape[:2], dtype=torch.bool, device=vectors.device)
        return vectors / self.logit_temperature, mask

    def train(self, mode: bool = True) -> MIND:
        self._item_vectors_cache = None
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):
        self._item_vectors_cache = None
        return super()._apply(fn, *args, **kwargs)

    def predict(self, interaction):
        interests, capsule_mask = self.forward(
            interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], interaction
        )
        item_emb = self.item_encoder(interaction[self.ITEM_ID]).unsqueeze(1)  # (B, 1, d)
        return max_interest_scores(interests, item_emb, capsule_mask).squeeze(1)

    def full_sort_predict(self, interaction):
        interests, capsule_mask = self.forward(
            interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], interaction
        )
        return max_interest_scores(interests, self.catalogue_vectors(), capsule_mask)

    def catalogue_vectors(self) -> torch.Tensor:
        """``(n_items, d)`` vectors of every item (row = internal item id, 0 = padding);
        computed once per evaluation in eval mode (see ``_item_vectors_cache``)."""
        if self.training:
            return self.item_encoder.all_items()
        versions = tuple(parameter._version for parameter in self.item_encoder.parameters())
        if self._item_vectors_cache is None or self._item_vectors_cache[0] != versions:
            self._item_vectors_cache = (versions, self.item_encoder.all_items().detach())
        return self._item_vectors_cache[1]
