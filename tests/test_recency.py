import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from recbole_mind.layers import B2IRouting
from recbole_mind.recency import (
    RecencyEmbedding,
    RecencyLogitPrior,
    RecencyWeights,
    ShortTermAttention,
    ShortTermOrderMLP,
    recency_index,
    recent_behaviour_weights,
)


def test_recency_index_counts_back_from_the_latest_behaviour():
    index = recency_index(torch.tensor([3, 1, 5]), 5)
    assert index.tolist() == [[2, 1, 0, 0, 0], [0, 0, 0, 0, 0], [4, 3, 2, 1, 0]]


@given(lengths=st.lists(st.integers(1, 12), min_size=1, max_size=6), window=st.integers(1, 12))
def test_recent_weights_mark_the_latest_real_behaviours_only(lengths, window):
    seq_len = torch.tensor(lengths)
    weights = recent_behaviour_weights(seq_len, 12, window)
    assert weights.shape == (len(lengths), 1, 12)
    for row, length in enumerate(lengths):
        expected = [1.0 if max(0, length - window) <= pos < length else 0.0 for pos in range(12)]
        assert weights[row, 0].tolist() == expected


@given(lengths=st.lists(st.integers(0, 12), min_size=1, max_size=6), window=st.integers(1, 12))
def test_learned_recency_weights_start_as_the_plain_window(lengths, window):
    seq_len = torch.tensor(lengths)
    weights = RecencyWeights(window)(seq_len, 12)
    assert torch.equal(weights, recent_behaviour_weights(seq_len, 12, window))


def test_learned_recency_weights_index_by_recency_and_get_gradient():
    layer = RecencyWeights(3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([3.0, 2.0, 1.0]))  # latest, one before, two before
    weights = layer(torch.tensor([5, 2, 0]), 6)
    assert weights[:, 0].tolist() == [
        [0.0, 0.0, 1.0, 2.0, 3.0, 0.0],
        [2.0, 3.0, 0.0, 0.0, 0.0, 0.0],
        [0.0] * 6,  # an empty history pools nothing
    ]
    weights.sum().backward()
    assert layer.weight.grad.tolist() == [2.0, 2.0, 1.0]


def test_recency_embedding_indexes_by_recency_and_leaves_padding_zero():
    torch.manual_seed(0)
    layer = RecencyEmbedding(max_seq_length=4, embedding_size=3)
    out = layer(torch.tensor([2, 4]), 4)
    table = layer.embedding.weight
    # user 0: positions 0, 1 are recency 1, 0; positions 2, 3 are padding
    assert torch.equal(out[0, 0], table[1]) and torch.equal(out[0, 1], table[0])
    assert (out[0, 2:] == 0).all()
    assert torch.equal(out[1, 3], table[0]) and torch.equal(out[1, 0], table[3])
    # a linear map applied to the table equals the map applied to every position
    linear = torch.nn.Linear(3, 3, bias=False)
    assert torch.allclose(layer(torch.tensor([2, 4]), 4, linear), linear(out), atol=1e-6)


def test_recency_prior_starts_at_zero_and_indexes_by_capsule_and_recency():
    prior = RecencyLogitPrior(interest_num=2, max_seq_length=3)
    assert (prior(torch.tensor([3]), 3) == 0).all()
    with torch.no_grad():
        prior.bias.copy_(torch.tensor([[0.0, 1.0, 2.0], [10.0, 11.0, 12.0]]))
    logits = prior(torch.tensor([3, 2]), 3)
    assert logits.shape == (2, 2, 3)
    assert logits[0].tolist() == [[2.0, 1.0, 0.0], [12.0, 11.0, 10.0]]
    assert logits[1, 0, :2].tolist() == [1.0, 0.0]


def test_recency_prior_steers_routing_and_gets_gradient():
    torch.manual_seed(0)
    routing = B2IRouting(embedding_size=8, interest_num=2, routing_times=3, max_seq_length=6)
    prior = RecencyLogitPrior(interest_num=2, max_seq_length=6)
    emb = torch.randn(3, 6, 8)
    behaviour_mask = torch.ones(3, 6, dtype=torch.bool)
    capsule_mask = torch.ones(3, 2, dtype=torch.bool)
    logits = torch.zeros(3, 2, 6)
    with torch.no_grad():  # capsule 0 takes the two latest behaviours, capsule 1 the rest
        prior.bias.copy_(torch.tensor([[20.0, 20, -20, -20, -20, -20], [-20.0, -20, 20, 20, 20, 20]]))
    capsules, weights = routing(emb, behaviour_mask, capsule_mask, logits, prior(torch.tensor([6, 6, 6]), 6))
    assert torch.allclose(weights[:, 0, 4:], torch.ones(3, 2), atol=1e-6)
    assert torch.allclose(weights[:, 0, :4], torch.zeros(3, 4), atol=1e-6)
    capsules.sum().backward()
    assert prior.bias.grad is not None and torch.isfinite(prior.bias.grad).all()


def test_no_prior_is_the_paper_routing():
    torch.manual_seed(0)
    routing = B2IRouting(embedding_size=8, interest_num=3, routing_times=3, max_seq_length=5)
    emb, logits = torch.randn(2, 5, 8), torch.randn(2, 3, 5)
    masks = (torch.ones(2, 5, dtype=torch.bool), torch.ones(2, 3, dtype=torch.bool))
    plain = routing(emb, *masks, logits)
    zero_prior = routing(emb, *masks, logits, torch.zeros(2, 3, 5))
    assert torch.equal(plain[0], zero_prior[0]) and torch.equal(plain[1], zero_prior[1])


@given(
    lengths=st.lists(st.integers(0, 12), min_size=1, max_size=6),
    window=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_short_term_attention_starts_near_the_plain_window_and_masks_padding(lengths, window, seed):
    torch.manual_seed(seed)
    seq_len = torch.tensor(lengths)
    layer = ShortTermAttention(window, 12, embedding_size=4)
    mapped = torch.randn(len(lengths), 12, 4)
    weights = layer(mapped, seq_len)
    plain = recent_behaviour_weights(seq_len, 12, window)
    assert weights.shape == plain.shape and torch.isfinite(weights).all()
    real = torch.arange(12).unsqueeze(0) < seq_len.unsqueeze(1)
    assert (weights[:, 0][~real] == 0).all()  # padding, and every position of an empty history
    # the weights sum to the plain window's count; older behaviours leak at most exp(-5) each
    assert torch.allclose(weights.sum(dim=-1), plain.sum(dim=-1), atol=1e-5)
    assert torch.allclose(weights, plain, atol=12 * math.exp(ShortTermAttention.OLDER_BIAS_START))


def test_short_term_attention_follows_the_query_back_to_older_behaviours():
    layer = ShortTermAttention(window=1, max_seq_length=4, embedding_size=2)
    with torch.no_grad():
        layer.recency_bias.zero_()  # no recency preference: content alone decides
        layer.query.copy_(10.0 * torch.eye(2))
    # the latest behaviour (position 3) points like position 0; positions 1, 2 point elsewhere
    mapped = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]])
    weights = layer(mapped, torch.tensor([4]))[0, 0]
    assert weights[0] > 0.45 and weights[3] > 0.45 and weights[1] < 0.01
    # one weight, not their sum: the weights always sum to the window's count
    layer(mapped, torch.tensor([4]))[0, 0, 0].backward()
    assert layer.query.grad.abs().sum() > 0 and layer.recency_bias.grad.abs().sum() > 0


@given(
    lengths=st.lists(st.integers(0, 12), min_size=1, max_size=6),
    window=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_short_term_order_mlp_starts_at_zero_and_reads_only_the_window(lengths, window, seed):
    torch.manual_seed(seed)
    seq_len = torch.tensor(lengths)
    layer = ShortTermOrderMLP(window, embedding_size=4)
    mapped = torch.randn(len(lengths), 12, 4)
    assert (layer(mapped, seq_len) == 0).all()  # as built: the capsule stays the pooled window
    with torch.no_grad():
        layer.output.normal_()
    term = layer(mapped, seq_len)
    assert term.shape == (len(lengths), 1, 4) and torch.isfinite(term).all()
    assert (term[seq_len == 0] == 0).all()  # an empty history stays an empty capsule
    # padding and behaviours older than the window do not move the term
    outside = ~((torch.arange(12).unsqueeze(0) < seq_len.unsqueeze(1))
                & (torch.arange(12).unsqueeze(0) >= seq_len.unsqueeze(1) - window))
    changed = mapped + 100.0 * torch.randn_like(mapped) * outside.unsqueeze(-1)
    assert torch.allclose(layer(changed, seq_len), term, atol=1e-5)


def test_short_term_order_mlp_tells_the_window_s_orders_apart_and_gets_gradient():
    torch.manual_seed(0)
    layer = ShortTermOrderMLP(window=2, embedding_size=3)
    with torch.no_grad():
        layer.output.copy_(torch.eye(3))
    first, second = torch.randn(3), torch.randn(3)
    forward = layer(torch.stack([first, second]).unsqueeze(0), torch.tensor([2]))
    backward = layer(torch.stack([second, first]).unsqueeze(0), torch.tensor([2]))
    assert not torch.allclose(forward, backward)  # a pooled sum would give the same capsule
    (forward.sum() + backward.sum()).backward()
    assert layer.output.grad.abs().sum() > 0 and layer.hidden.weight.grad.abs().sum() > 0
