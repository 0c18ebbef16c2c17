"""MIND: Multi-Interest Network with Dynamic Routing (Li et al., CIKM 2019) for RecBole."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.init import xavier_normal_

from recbole.model.abstract_recommender import SequentialRecommender
from recbole.utils import FeatureSource, InputType

from recbole_mind.features import FieldEmbedding, ItemEncoder, check_fields
from recbole_mind.layers import (
    B2IRouting,
    LabelAwareAttention,
    dynamic_interest_num,
    interest_mask,
    max_interest_scores,
)
from recbole_mind.params import read_mind_params
from recbole_mind.sampling import NegativeSampler, sampled_softmax_loss


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

        item_fields = check_fields(dataset, params.item_feature_fields, "item_feature_fields", FeatureSource.ITEM)
        user_fields = check_fields(dataset, params.user_profile_fields, "user_profile_fields", FeatureSource.USER)
        self.item_encoder = ItemEncoder(
            dataset, item_fields, self.n_items, self.embedding_size, sparse=params.sparse_item_embedding
        )
        self.user_profile = FieldEmbedding(dataset, user_fields, self.embedding_size) if user_fields else None
        self.emb_dropout = nn.Dropout(params.dropout_prob)
        self.routing = B2IRouting(
            embedding_size=self.embedding_size,
            interest_num=self.interest_num,
            routing_times=params.routing_times,
            max_seq_length=self.max_seq_length,
            logit_std=params.routing_logit_std,
            softmax_axis=params.routing_softmax_axis,
            eval_seed=config["seed"] or 0,
        )
        mlp_layers: list[nn.Module] = []
        in_size = self.embedding_size * (1 + len(user_fields))  # capsule + tiled profile
        for hidden_size in params.interest_mlp_hidden_sizes:
            mlp_layers += [
                nn.Linear(in_size, hidden_size),
                nn.ReLU(),
                nn.Dropout(params.dropout_prob),
            ]
            in_size = hidden_size
        mlp_layers.append(nn.Linear(in_size, self.embedding_size))
        self.interest_mlp = nn.Sequential(*mlp_layers)
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
        behaviour_emb = self.emb_dropout(self.item_encoder(item_seq))
        capsules, routing_weights = self.routing(behaviour_emb, behaviour_mask, capsule_mask)
        if self.user_profile is not None:
            profile = self.user_profile(interaction).flatten(start_dim=1)  # (B, F * d)
            tiled = profile.unsqueeze(1).expand(-1, self.interest_num, -1)
            capsules = torch.cat([capsules, tiled], dim=-1)
        interests = self.interest_mlp(capsules) * capsule_mask.unsqueeze(-1)
        if return_routing_weights:
            return interests, capsule_mask, routing_weights
        return interests, capsule_mask

    def calculate_loss(self, interaction):
        interests, capsule_mask = self.forward(
            interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], interaction
        )
        pos_items = interaction[self.POS_ITEM_ID]
        pos_emb = self.item_encoder(pos_items)
        user_vector = self.attention(interests, pos_emb, capsule_mask)
        if self.loss_type == "CE":
            logits = torch.matmul(user_vector, self.item_encoder.all_items().t())
            return self.loss_fct(logits, pos_items)
        neg_items = self.negative_sampler(self.num_negatives)
        log_q = (None, None)
        if self.logq_correction:
            log_q = (self.negative_sampler.log_q(pos_items), self.negative_sampler.log_q(neg_items))
        return sampled_softmax_loss(
            user_vector, pos_emb, pos_items, self.item_encoder(neg_items), neg_items, *log_q
        )

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
