import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from recbole_mind.model.layers import (
    B2IRouting,
    LabelAwareAttention,
    dynamic_interest_num,
    interest_mask,
    squash,
)


def make_batch(batch_size, seq_length, dim, lengths, seed=0):
    generator = torch.Generator().manual_seed(seed)
    emb = torch.randn(batch_size, seq_length, dim, generator=generator)
    mask = torch.arange(seq_length).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    return emb * mask.unsqueeze(-1), mask


batch_shapes = st.integers(1, 5).flatmap(
    lambda batch_size: st.tuples(
        st.just(batch_size),
        st.integers(1, 12),  # L
        st.integers(1, 6),  # K
        st.integers(1, 8),  # d
        st.lists(st.integers(1, 12), min_size=batch_size, max_size=batch_size),
        st.sampled_from(["interest", "behaviour"]),
    )
)


# --- squash -------------------------------------------------------------------------------


def test_squash_of_zero_is_finite_with_finite_gradient():
    zero = torch.zeros(3, 4, requires_grad=True)
    out = squash(zero)
    out.sum().backward()
    assert torch.equal(out, torch.zeros(3, 4))
    assert torch.isfinite(zero.grad).all()


@given(st.lists(st.floats(-50, 50), min_size=1, max_size=8))
def test_squash_keeps_direction_and_maps_norm_to_unit_interval(values):
    vector = torch.tensor(values, dtype=torch.float64)
    out = squash(vector)
    norm = vector.norm()
    assert out.norm() < 1
    if norm > 1e-3:
        expected = norm**2 / (1 + norm**2) * vector / norm
        assert torch.allclose(out, expected, rtol=1e-6, atol=1e-9)


# --- dynamic interest count ---------------------------------------------------------------


@pytest.mark.parametrize(
    "interest_num, expected",
    [(4, [1, 1, 1, 2, 4]), (8, [1, 1, 1, 2, 6]), (1, [1, 1, 1, 1, 1])],
)
def test_dynamic_interest_num_follows_floor_log2(interest_num, expected):
    lengths = torch.tensor([1, 2, 3, 4, 100])
    assert dynamic_interest_num(lengths, interest_num).tolist() == expected


def test_dynamic_interest_num_exact_at_powers_of_two():
    lengths = torch.tensor([2**k for k in range(1, 20)] + [2**k - 1 for k in range(2, 20)])
    expected = [max(1, min(30, math.floor(math.log2(n)))) for n in lengths.tolist()]
    assert dynamic_interest_num(lengths, 30).tolist() == expected


def test_interest_mask_marks_first_active_capsules():
    mask = interest_mask(torch.tensor([1, 3]), 4)
    assert mask.tolist() == [[True, False, False, False], [True, True, True, False]]


# --- routing ------------------------------------------------------------------------------


@given(batch_shapes, st.integers(0, 10_000))
def test_routing_shapes_and_masked_weights(shape, seed):
    batch_size, seq_length, interest_num, dim, lengths, axis = shape
    lengths = [min(n, seq_length) for n in lengths]
    torch.manual_seed(seed)
    routing = B2IRouting(dim, interest_num, max_seq_length=seq_length, softmax_axis=axis)
    emb, mask = make_batch(batch_size, seq_length, dim, lengths, seed)
    active = dynamic_interest_num(torch.tensor(lengths), interest_num)
    capsule_mask = interest_mask(active, interest_num)
    capsules, weights = routing(emb, mask, capsule_mask)

    assert capsules.shape == (batch_size, interest_num, dim)
    assert weights.shape == (batch_size, interest_num, seq_length)
    assert torch.isfinite(capsules).all() and torch.isfinite(weights).all()
    # padded behaviours and inactive capsules get exactly zero weight
    valid = capsule_mask.unsqueeze(2) & mask.unsqueeze(1)
    assert (weights[~valid] == 0).all()
    assert (capsules[~capsule_mask] == 0).all()
    # the softmax normalises over the chosen axis, among valid entries only
    sums = weights.sum(dim=1 if axis == "interest" else 2)
    expected = mask.float() if axis == "interest" else capsule_mask.float()
    assert torch.allclose(sums, expected, atol=1e-5)


@given(batch_shapes, st.integers(1, 6), st.integers(0, 10_000))
def test_appending_padding_does_not_change_capsules(shape, extra, seed):
    batch_size, seq_length, interest_num, dim, lengths, axis = shape
    lengths = [min(n, seq_length) for n in lengths]
    torch.manual_seed(seed)
    routing = B2IRouting(dim, interest_num, max_seq_length=seq_length + extra, softmax_axis=axis)
    emb, mask = make_batch(batch_size, seq_length, dim, lengths, seed)
    capsule_mask = torch.ones(batch_size, interest_num, dtype=torch.bool)
    logits = torch.randn(batch_size, interest_num, seq_length + extra)

    short, short_weights = routing(emb, mask, capsule_mask, logits=logits[:, :, :seq_length])
    padded_emb = torch.cat([emb, torch.randn(batch_size, extra, dim)], dim=1)  # garbage
    padded_mask = torch.cat([mask, torch.zeros(batch_size, extra, dtype=torch.bool)], dim=1)
    long, long_weights = routing(padded_emb, padded_mask, capsule_mask, logits=logits)

    assert torch.allclose(short, long, atol=1e-6)
    assert torch.allclose(short_weights, long_weights[:, :, :seq_length], atol=1e-6)
    assert (long_weights[:, :, seq_length:] == 0).all()


def test_inactive_capsules_do_not_change_active_ones_under_interest_softmax():
    torch.manual_seed(0)
    routing = B2IRouting(6, 4, max_seq_length=8)
    emb, mask = make_batch(2, 8, 6, [8, 5])
    logits = torch.randn(2, 4, 8)
    all_active = torch.ones(2, 4, dtype=torch.bool)
    two_active = interest_mask(torch.tensor([2, 2]), 4)
    _, weights_all = routing(emb, mask, all_active, logits=logits)
    capsules, weights_two = routing(emb, mask, two_active, logits=logits)
    # behaviours spread over the two active capsules only
    assert (capsules[:, 2:] == 0).all()
    assert torch.allclose(weights_two[:, :2].sum(1), mask.float(), atol=1e-6)
    assert not torch.allclose(weights_all[:, :2], weights_two[:, :2])


def test_gradients_reach_bilinear_map_and_embeddings_not_logits():
    torch.manual_seed(0)
    routing = B2IRouting(5, 3, routing_times=3, max_seq_length=7)
    emb, mask = make_batch(4, 7, 5, [7, 3, 1, 5])
    emb.requires_grad_(True)
    logits = torch.randn(4, 3, 7, requires_grad=True)
    capsules, _ = routing(emb, mask, torch.ones(4, 3, dtype=torch.bool), logits=logits)
    capsules.pow(2).sum().backward()
    assert routing.bilinear.weight.grad is not None
    assert routing.bilinear.weight.grad.abs().sum() > 0
    assert emb.grad[mask].abs().sum() > 0
    assert logits.grad is None


def test_zero_logits_with_shared_map_give_identical_capsules_random_logits_do_not():
    # why the logits are Gaussian: with a shared S, zeros make every capsule the same
    torch.manual_seed(0)
    routing = B2IRouting(6, 3, max_seq_length=10)
    emb, mask = make_batch(2, 10, 6, [10, 10])
    capsule_mask = torch.ones(2, 3, dtype=torch.bool)
    same, _ = routing(emb, mask, capsule_mask, logits=torch.zeros(2, 3, 10))
    assert torch.allclose(same[:, 0], same[:, 1]) and torch.allclose(same[:, 1], same[:, 2])
    routing.train()
    varied, _ = routing(emb, mask, capsule_mask)
    assert not torch.allclose(varied[:, 0], varied[:, 1])


def test_training_draws_fresh_logits_eval_is_deterministic():
    torch.manual_seed(0)
    routing = B2IRouting(6, 3, max_seq_length=10)
    emb, mask = make_batch(3, 10, 6, [10, 4, 7])
    capsule_mask = torch.ones(3, 3, dtype=torch.bool)
    routing.train()
    first, _ = routing(emb, mask, capsule_mask)
    second, _ = routing(emb, mask, capsule_mask)
    assert not torch.allclose(first, second)
    routing.eval()
    first, _ = routing(emb, mask, capsule_mask)
    torch.manual_seed(123)
    second, _ = routing(emb, mask, capsule_mask)
    assert torch.equal(first, second)
    # a user's interests do not depend on the rest of the batch
    alone, _ = routing(emb[1:2], mask[1:2], capsule_mask[1:2])
    assert torch.allclose(alone[0], first[1], atol=1e-6)


def test_eval_rejects_histories_longer_than_built_for():
    routing = B2IRouting(4, 2, max_seq_length=5).eval()
    emb, mask = make_batch(1, 6, 4, [6])
    with pytest.raises(ValueError, match="MAX_ITEM_LIST_LENGTH"):
        routing(emb, mask, torch.ones(1, 2, dtype=torch.bool))


def test_routing_rejects_unknown_softmax_axis():
    with pytest.raises(ValueError, match="softmax_axis"):
        B2IRouting(4, 2, softmax_axis="items")


# --- label-aware attention ----------------------------------------------------------------


def test_attention_power_one_is_the_softmax_formula():
    torch.manual_seed(0)
    interests = torch.randn(3, 4, 5)
    target = torch.randn(3, 5)
    mask = torch.ones(3, 4, dtype=torch.bool)
    out = LabelAwareAttention(1.0)(interests, target, mask)
    for b in range(3):
        logits = [float(interests[b, k] @ target[b]) for k in range(4)]
        exps = [math.exp(x) for x in logits]
        weights = [e / sum(exps) for e in exps]
        expected = sum(w * interests[b, k] for k, w in enumerate(weights))
        assert torch.allclose(out[b], expected, atol=1e-5)


@pytest.mark.parametrize("power", [2.0, 0.5])
def test_attention_power_raises_exponentiated_similarity_to_p(power):
    torch.manual_seed(1)
    interests = torch.randn(2, 3, 4)
    target = torch.randn(2, 4)
    mask = torch.ones(2, 3, dtype=torch.bool)
    weights = LabelAwareAttention(power).attention_weights(interests, target, mask)
    logits = torch.einsum("bkd,bd->bk", interests, target)
    numerators = torch.exp(logits) ** power
    assert torch.allclose(weights, numerators / numerators.sum(1, keepdim=True), atol=1e-6)


def test_large_power_approaches_argmax_and_inf_is_hard():
    torch.manual_seed(2)
    interests = torch.randn(8, 4, 6)
    target = torch.randn(8, 6)
    mask = torch.ones(8, 4, dtype=torch.bool)
    logits = torch.einsum("bkd,bd->bk", interests, target)
    hard = torch.nn.functional.one_hot(logits.argmax(1), 4).float()
    assert torch.equal(LabelAwareAttention(math.inf).attention_weights(interests, target, mask), hard)
    near = LabelAwareAttention(1e4).attention_weights(interests, target, mask)
    assert torch.allclose(near, hard, atol=1e-3)
    huge = LabelAwareAttention(1e38).attention_weights(interests, target, mask)
    assert torch.isfinite(huge).all()


@given(
    st.integers(1, 6),
    st.integers(2, 6),
    st.sampled_from([0.01, 1.0, 3.0, 1e6, math.inf]),
    st.integers(0, 10_000),
)
def test_masked_capsules_never_get_attention(batch_size, interest_num, power, seed):
    generator = torch.Generator().manual_seed(seed)
    interests = torch.randn(batch_size, interest_num, 4, generator=generator) * 5
    target = torch.randn(batch_size, 4, generator=generator)
    active = torch.randint(1, interest_num + 1, (batch_size,), generator=generator)
    mask = interest_mask(active, interest_num)
    weights = LabelAwareAttention(power).attention_weights(interests, target, mask)
    assert torch.isfinite(weights).all()
    assert (weights[~mask] == 0).all()
    assert torch.allclose(weights.sum(1), torch.ones(batch_size), atol=1e-5)


@pytest.mark.parametrize("power", [0, -1.0, float("nan")])
def test_attention_rejects_non_positive_power(power):
    with pytest.raises(ValueError, match="attention_power"):
        LabelAwareAttention(power)




@pytest.mark.parametrize("hidden_sizes", [(), (16,), (16, 8)])
def test_interest_mlp_maps_capsules_to_interests_through_its_hidden_layers(hidden_sizes):
    from recbole_mind.model.layers import interest_mlp

    mlp = interest_mlp(12, hidden_sizes, 6, dropout_prob=0.0)
    linear = [layer for layer in mlp if isinstance(layer, torch.nn.Linear)]
    assert [layer.out_features for layer in linear] == [*hidden_sizes, 6]
    assert sum(isinstance(layer, torch.nn.ReLU) for layer in mlp) == len(hidden_sizes)
    assert mlp(torch.randn(3, 4, 12)).shape == (3, 4, 6)
