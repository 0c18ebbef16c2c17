"""recbole_mind.model.scoring: the serving rule and the products training shares."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from recbole_mind.model.layers import interest_mask
from recbole_mind.model.scoring import interest_scores, max_and_first_scores, max_interest_scores


def test_max_interest_scores_is_brute_force_max_over_active_interests():
    torch.manual_seed(3)
    interests = torch.randn(3, 4, 5)
    items = torch.randn(7, 5)
    mask = interest_mask(torch.tensor([1, 2, 4]), 4)
    scores = max_interest_scores(interests, items, mask)
    for b in range(3):
        for i in range(7):
            best = max(float(interests[b, k] @ items[i]) for k in range(4) if mask[b, k])
            assert scores[b, i].item() == pytest.approx(best, abs=1e-5)


def masked_product(interests, items, mask):
    """The reference: the product, then -inf written over the inactive interests."""
    scores = torch.matmul(interests, items.transpose(-1, -2))
    return scores.masked_fill(~mask.unsqueeze(-1), float("-inf"))


@given(
    batch_size=st.integers(1, 4),
    interest_num=st.integers(1, 5),
    item_num=st.integers(1, 6),
    per_user_items=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_interest_scores_equal_the_masked_product_with_the_same_gradients(
    batch_size, interest_num, item_num, per_user_items, seed
):
    generator = torch.Generator().manual_seed(seed)
    interests = torch.randn(batch_size, interest_num, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    shape = (batch_size, item_num, 3) if per_user_items else (item_num, 3)
    items = torch.randn(*shape, generator=generator, dtype=torch.float64, requires_grad=True)
    active = torch.randint(1, interest_num + 1, (batch_size,), generator=generator)
    mask = interest_mask(active, interest_num)
    scores = interest_scores(interests, items, mask)
    expected = masked_product(interests, items, mask)
    assert scores.shape == (batch_size, interest_num, item_num)
    assert torch.equal(torch.isinf(scores), ~mask.unsqueeze(-1).expand_as(scores))
    assert torch.allclose(scores[mask], expected[mask])
    weights = torch.randn(batch_size, item_num, generator=generator, dtype=torch.float64)
    grads = torch.autograd.grad((scores.max(dim=1).values * weights).sum(), (interests, items))
    expected_grads = torch.autograd.grad((expected.max(dim=1).values * weights).sum(), (interests, items))
    for grad, expected_grad in zip(grads, expected_grads):
        assert torch.allclose(grad, expected_grad)


@given(batch_size=st.integers(1, 4), interest_num=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_max_and_first_scores_match_autograds_max_and_select(batch_size, interest_num, seed):
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(batch_size, interest_num, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    active = torch.randint(1, interest_num + 1, (batch_size,), generator=generator)
    masked = scores + torch.zeros(batch_size, interest_num, 1, dtype=torch.float64).masked_fill(
        ~interest_mask(active, interest_num).unsqueeze(-1), float("-inf")
    )
    best, first = max_and_first_scores(masked)
    assert torch.equal(best, masked.max(dim=1).values)
    assert torch.equal(first, masked[:, 0])
    best_weights, first_weights = torch.randn(2, batch_size, 6, generator=generator, dtype=torch.float64)
    (grad,) = torch.autograd.grad((best * best_weights).sum() + (first * first_weights).sum(), scores)
    (expected,) = torch.autograd.grad(
        (masked.max(dim=1).values * best_weights).sum() + (masked[:, 0] * first_weights).sum(), scores
    )
    assert torch.equal(grad, expected)


def test_max_and_first_scores_passes_gradcheck():
    scores = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(max_and_first_scores, (scores,))
