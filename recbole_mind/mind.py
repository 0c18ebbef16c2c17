"""MIND: Multi-Interest Network with Dynamic Routing (Li et al., CIKM 2019) for RecBole."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.init import xavier_normal_

from recbole.model.abstract_recommender import SequentialRecommender
from recbole.utils import FeatureSource, InputType

from recbole_mind.features import FieldEmbedding, ItemEncoder, check_fields
from recbole_mind.future_targets import FUTURE_ITEM_FIELD, multi_target_cross_entropy
from recbole_mind.layers import (
    B2IRouting,
    LabelAwareAttention,
    dynamic_interest_num,
    interest_mask,
    interest_mlp,
    routing_collapse,
    squash,
)
from recbole_mind.params import read_mind_params
from recbole_mind.recency import (
    RecencyEmbedding,
    RecencyLogitPrior,
    RecencyWeights,
    ShortTermAttention,
    ShortTermOrderMLP,
    recent_behaviour_weights,
)
from recbole_mind.sampling import (
    NegativeSampler,
    hard_negative_cross_entropy,
    sampled_softmax_from_logits,
)
from recbole_mind.scoring import interest_scores, max_and_first_scores, max_interest_scores


class MIND(SequentialRecommender):
    r"""MIND turns a user's history into ``K`` interest vectors by B2I dynamic routing.

    Training picks, for each target item, a mix of the user's interests by label-aware
    attention and scores it against all items with a full softmax (``loss_type: CE``) or
    against a shared sample of negatives (``loss_type: SSM``, sampled softmax).
    Serving and evaluation drop the attention: an item's score is its best inner product
    with any active interest, ``max_k e_i . v_u^k``. Keys and defaults: ``properties/MIND.yaml``.
    """

    input_type = InputType.POINTWISE

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        params = read_mind_params(config)
        self.embedding_size = params.embedding_size
        self.interest_num = params.interest_num
        self.dynamic_interest = params.dynamic_interest
        self.loss_type = params.loss_type
        self.training_score = params.training_score
        self.future_targets = params.future_targets
        self.hard_negative_beta = params.hard_negative_beta  # REMI's hard negatives (0: off)
        # 0: off; with no routed interests the short-term one's loss is the whole loss already
        self.short_term_loss_weight = params.short_term_loss_weight if self.interest_num > 1 else 0.0
        if self.future_targets and FUTURE_ITEM_FIELD not in dataset.inter_feat:
            raise ValueError(
                f"future_targets: {self.future_targets} trains on later items that the training split "
                f"carries in '{FUTURE_ITEM_FIELD}' (recbole_mind.future_targets.add_future_targets, "
                "which run_recbole_mind applies); this dataset has none"
            )

        item_fields = check_fields(dataset, params.item_feature_fields, "item_feature_fields", FeatureSource.ITEM)
        user_fields = check_fields(dataset, params.user_profile_fields, "user_profile_fields", FeatureSource.USER)
        # > 0: items and interests on the unit sphere, training's logits their cosines / this
        self.cosine_temperature = params.cosine_temperature
        self.item_encoder = ItemEncoder(
            dataset, item_fields, self.n_items, self.embedding_size,
            sparse=params.sparse_item_embedding, normalize=self.cosine_temperature > 0,
        )
        self.user_profile = FieldEmbedding(dataset, user_fields, self.embedding_size) if user_fields else None
        self.emb_dropout = nn.Dropout(params.dropout_prob)
        # Opt-in order and recency (recbole_mind.recency); all off in the paper's MIND. With a
        # short-term window, capsule 0 pools the latest behaviours and routing builds the others.
        self.short_term_window = params.short_term_window
        routed_num = self.interest_num - (1 if self.short_term_window else 0)
        self.recency_embedding = (
            RecencyEmbedding(self.max_seq_length, self.embedding_size) if params.recency_embedding else None
        )
        self.routing = B2IRouting(
            embedding_size=self.embedding_size,
            interest_num=max(routed_num, 1),
            routing_times=params.routing_times,
            max_seq_length=self.max_seq_length,
            logit_std=params.routing_logit_std,
            softmax_axis=params.routing_softmax_axis,
            eval_seed=config["seed"] or 0,
            routing_gradient=params.routing_gradient,
        )
        self.routed_num = routed_num
        # REMI's routing regularisation (0: off), on the routed interests only (params ensures some)
        self.routing_regularization = params.routing_regularization
        self.short_term_weights = (
            RecencyWeights(self.short_term_window)
            if self.short_term_window and params.short_term_recency_weights
            else None
        )
        self.short_term_attention = (
            ShortTermAttention(self.short_term_window, self.max_seq_length, self.embedding_size)
            if self.short_term_window and params.short_term_attention
            else None
        )
        self.short_term_order = (
            ShortTermOrderMLP(self.short_term_window, self.embedding_size, params.dropout_prob)
            if self.short_term_window and params.short_term_order_mlp
            else None
        )
        self.routing_prior = (
            RecencyLogitPrior(routed_num, self.max_seq_length)
            if params.routing_recency_prior and routed_num > 0
            else None
        )
        in_size = self.embedding_size * (1 + len(user_fields))  # capsule + tiled profile
        mlp_args = (in_size, params.interest_mlp_hidden_sizes, self.embedding_size, params.dropout_prob)
        self.interest_mlp = interest_mlp(*mlp_args)
        # The short-term capsule gets an MLP of its own, so that serving's max over interests
        # can weigh it against the routed ones (a shared map scales them all alike).
        self.short_term_mlp = interest_mlp(*mlp_args) if self.short_term_window and routed_num > 0 else None
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

    def forward(
        self,
        item_seq: torch.Tensor,
        item_seq_len: torch.Tensor,
        interaction=None,
        return_routing_weights: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """Interests of each user.

        Args:
            item_seq: ``(B, L)`` item ids, 0 for padding.
            item_seq_len: ``(B,)`` number of real behaviours.
            interaction: the batch, for the user profile fields (needed when configured).
            return_routing_weights: also return the last routing iteration's weights (for
                explanations).

        Returns:
            interests: ``(B, K, d)``, inactive interests are zero.
            capsule_mask: ``(B, K)`` bool, ``True`` for active interests.
            routing_weights: ``(B, K, L)``, only with ``return_routing_weights``.
        """
        behaviour_mask = item_seq != 0
        if self.dynamic_interest:
            active_num = dynamic_interest_num(item_seq_len, self.interest_num)
        else:
            active_num = torch.full_like(item_seq_len, self.interest_num)
        capsule_mask = interest_mask(active_num, self.interest_num)
        mapped = self._mapped_behaviours(item_seq, item_seq_len)
        capsules, routing_weights = self._capsules(mapped, behaviour_mask, item_seq_len, capsule_mask)
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
        interests = interests * capsule_mask.unsqueeze(-1)
        if return_routing_weights:
            return interests, capsule_mask, routing_weights
        return interests, capsule_mask

    def _mapped_behaviours(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        """``S e_i`` (plus ``S p_r`` with recency embeddings) for every behaviour: ``(B, L, d)``."""
        seq_length = item_seq.size(1)
        sparse_table = self.item_encoder.id_embedding.sparse  # needs row gradients, not the table's
        if self.emb_dropout.p == 0 and not sparse_table and self.n_items <= item_seq.numel():
            # S is linear: mapping the catalogue once and gathering rows gives the same vectors
            # at a fraction of the cost when the batch holds more positions than there are items
            # (in eval mode from the catalogue cache that full_sort_predict fills anyway).
            mapped = self.routing.bilinear(self.catalogue_vectors())[item_seq]
            if self.recency_embedding is not None:
                mapped = mapped + self.recency_embedding(item_seq_len, seq_length, self.routing.bilinear)
            return mapped
        behaviour_emb = self.emb_dropout(self.item_encoder(item_seq))
        if self.recency_embedding is not None:
            behaviour_emb = behaviour_emb + self.recency_embedding(item_seq_len, seq_length)
        return self.routing.bilinear(behaviour_emb)

    def _capsules(self, mapped, behaviour_mask, item_seq_len, capsule_mask):
        """Capsules ``(B, K, d)`` and routing weights ``(B, K, L)``: routed, or short-term + routed."""
        prior = None
        if self.routing_prior is not None:
            prior = self.routing_prior(item_seq_len, mapped.size(1))
        if not self.short_term_window:
            return self.routing.route_mapped(mapped, behaviour_mask, capsule_mask, logit_prior=prior)
        if self.short_term_attention is not None:
            recent = self.short_term_attention(mapped, item_seq_len)
        elif self.short_term_weights is not None:
            recent = self.short_term_weights(item_seq_len, mapped.size(1))
        else:
            recent = recent_behaviour_weights(item_seq_len, mapped.size(1), self.short_term_window)
        pooled = torch.bmm(recent, mapped)  # (B, 1, d)
        if self.short_term_order is not None:
            pooled = pooled + self.short_term_order(mapped, item_seq_len)
        short_term = squash(pooled)
        if self.routed_num == 0:
            return short_term, recent
        routed, weights = self.routing.route_mapped(mapped, behaviour_mask, capsule_mask[:, 1:], logit_prior=prior)
        return torch.cat([short_term, routed], dim=1), torch.cat([recent, weights], dim=1)

    def calculate_loss(self, interaction):
        item_seq = interaction[self.ITEM_SEQ]
        regularise = self.routing_regularization > 0
        interests, capsule_mask, *weights = self.forward(
            item_seq, interaction[self.ITEM_SEQ_LEN], interaction, return_routing_weights=regularise
        )
        loss = self._score_loss(interests, capsule_mask, interaction)
        if regularise:
            routed = slice(1, None) if self.short_term_window else slice(None)
            collapse = routing_collapse(weights[0][:, routed], item_seq != 0, capsule_mask[:, routed])
            loss = loss + self.routing_regularization * collapse.mean()
        return loss

    def _score_loss(self, interests: torch.Tensor, capsule_mask: torch.Tensor, interaction) -> torch.Tensor:
        """The softmax loss of the target items (CE or SSM, attention or max scoring), plus,
        with ``short_term_loss_weight``, the short-term interest's own on the same candidates."""
        pos_items = interaction[self.POS_ITEM_ID]
        pos_emb = self.item_encoder(pos_items)
        vectors = self._scoring_vectors(interests, capsule_mask, pos_emb)
        if self.loss_type == "CE":
            heads = self._head_scores(*vectors, self.item_encoder.all_items())
            return self._weighted(self._full_softmax_loss(logits, interaction) for logits in heads)
        neg_items = self.negative_sampler(self.num_negatives)
        log_q = (None, None)
        if self.logq_correction:
            log_q = (self.negative_sampler.log_q(pos_items), self.negative_sampler.log_q(neg_items))
        pos_heads = self._head_scores(*vectors, pos_emb.unsqueeze(1))
        neg_heads = self._head_scores(*vectors, self.item_encoder(neg_items))
        return self._weighted(
            sampled_softmax_from_logits(
                pos_logits.squeeze(1), pos_items, neg_logits, neg_items, *log_q, self.hard_negative_beta
            )
            for pos_logits, neg_logits in zip(pos_heads, neg_heads)
        )

    def _scoring_vectors(
        self, interests: torch.Tensor, capsule_mask: torch.Tensor, pos_emb: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, H, d)`` vectors that training scores items with, and their ``(B, H)`` mask: the
        interests themselves under ``training_score: max``; else the label-aware mix, then, with
        ``short_term_loss_weight``, the short-term interest. With ``cosine_temperature`` they are
        divided by it: ``(B, H, d)`` products are cheaper to scale than ``(B, H, N)`` scores."""
        if self.training_score == "max":
            vectors, mask = interests, capsule_mask
        else:
            vectors = self.attention(interests, pos_emb, capsule_mask).unsqueeze(1)
            if self.short_term_loss_weight:
                vectors = torch.cat([vectors, interests[:, :1]], dim=1)
            mask = torch.ones(vectors.shape[:2], dtype=torch.bool, device=vectors.device)
        if self.cosine_temperature:
            vectors = vectors / self.cosine_temperature
        return vectors, mask

    def _head_scores(self, vectors: torch.Tensor, mask: torch.Tensor, items: torch.Tensor) -> list[torch.Tensor]:
        """``(B, N)`` scores of ``items`` (``(N, d)`` or ``(B, N, d)``) by the training score,
        then, with ``short_term_loss_weight``, by the short-term interest alone; one product
        of :meth:`_scoring_vectors`' vectors serves both."""
        scores = interest_scores(vectors, items, mask)  # (B, H, N)
        if self.training_score != "max":
            return list(scores.unbind(dim=1))
        if self.short_term_loss_weight:
            return list(max_and_first_scores(scores))  # interest 0 is short-term and always active
        return [scores.max(dim=1).values]

    def _weighted(self, head_losses) -> torch.Tensor:
        """The training score's loss plus ``short_term_loss_weight`` times the short-term one's.

        The max over interests trains each interest only on the items it wins, so the routed
        interests starve the short-term one of the targets they take; its own softmax trains
        it on every target, as a single-interest model would be."""
        loss, *short_term = head_losses
        return loss + self.short_term_loss_weight * short_term[0] if short_term else loss

    def _full_softmax_loss(self, logits: torch.Tensor, interaction) -> torch.Tensor:
        """CE of ``(B, n_items)`` logits: the next item, the later ones too with
        ``future_targets``, hard-negative weighted with ``hard_negative_beta``."""
        pos_items = interaction[self.POS_ITEM_ID]
        if self.future_targets:
            targets = torch.cat([pos_items.unsqueeze(1), interaction[FUTURE_ITEM_FIELD]], dim=1)
            return multi_target_cross_entropy(logits, targets)
        if self.hard_negative_beta:
            return hard_negative_cross_entropy(logits, pos_items, self.hard_negative_beta)
        return self.loss_fct(logits, pos_items)

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
