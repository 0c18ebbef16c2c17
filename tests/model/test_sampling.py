import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from recbole_mind.model.sampling import (
    NegativeSampler,
    sampled_softmax_from_logits,
    sampled_softmax_loss,
)


def test_all_items_uniform_no_correction_equals_full_softmax_over_real_items():
    torch.manual_seed(0)
    n_items, batch, dim = 30, 8, 5
    items = torch.randn(n_items, dim)
    users = torch.randn(batch, dim)
    positives = torch.randint(1, n_items, (batch,))
    negatives = torch.arange(1, n_items)
    loss = sampled_softmax_loss(users, items[positives], positives, items[negatives], negatives)
    full = torch.nn.functional.cross_entropy(users @ items[1:].t(), positives - 1)
    assert loss.item() == pytest.approx(full.item(), rel=1e-5)


def test_uniform_log_q_correction_changes_nothing():
    torch.manual_seed(1)
    sampler = NegativeSampler(20, "uniform")
    items, users = torch.randn(20, 4), torch.randn(6, 4)
    positives = torch.randint(1, 20, (6,))
    negatives = sampler(15)
    plain = sampled_softmax_loss(users, items[positives], positives, items[negatives], negatives)
    corrected = sampled_softmax_loss(
        users, items[positives], positives, items[negatives], negatives,
        sampler.log_q(positives), sampler.log_q(negatives),
    )
    assert corrected.item() == pytest.approx(plain.item(), rel=1e-5)


@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 12))
def test_accidental_hits_never_count_as_negatives(seed, batch, num_negatives):
    generator = torch.Generator().manual_seed(seed)
    items = torch.randn(6, 3, generator=generator)
    users = torch.randn(batch, 3, generator=generator)
    positives = torch.randint(1, 6, (batch,), generator=generator)
    negatives = torch.randint(1, 6, (num_negatives,), generator=generator)
    loss = sampled_softmax_loss(users, items[positives], positives, items[negatives], negatives)
    expected = []
    for row in range(batch):
        kept = [n for n in negatives.tolist() if n != positives[row].item()]
        logits = torch.stack([users[row] @ items[positives[row]]] + [users[row] @ items[n] for n in kept])
        expected.append(-torch.log_softmax(logits, 0)[0])
    assert loss.item() == pytest.approx(torch.stack(expected).mean().item(), rel=1e-5, abs=1e-6)


def test_only_negatives_that_equal_the_positive_are_ignored():
    users = torch.ones(1, 2)
    items = torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    positive = torch.tensor([1])
    # the huge-scoring item 2 is a real negative; item 1 drawn as a negative is the positive
    with_hit = sampled_softmax_loss(users, items[positive], positive, items[[1, 2]], torch.tensor([1, 2]))
    without = sampled_softmax_loss(users, items[positive], positive, items[[2]], torch.tensor([2]))
    assert with_hit.item() == pytest.approx(without.item())
    assert math.isfinite(with_hit.item())


def test_popularity_sampler_draws_frequent_items_more_often():
    torch.manual_seed(2)
    counts = torch.tensor([0.0, 1000.0, 10.0, 0.0])
    sampler = NegativeSampler(4, "popularity", counts)
    draws = torch.bincount(sampler(20_000), minlength=4)
    assert draws[0] == 0  # padding is never drawn
    assert draws[1] > 50 * draws[2] / 2 and draws[2] > draws[3] > 0
    assert sampler.log_q(torch.tensor([1])).item() == pytest.approx(math.log(1001 / 1013))  # (count + 1) / sum, padding excluded


def test_uniform_sampler_never_draws_padding_and_covers_items():
    torch.manual_seed(3)
    draws = NegativeSampler(5, "uniform")(5_000)
    assert draws.min() >= 1 and set(draws.tolist()) == {1, 2, 3, 4}


@pytest.mark.parametrize(
    "args, message",
    [(("zipf",), "negative_sampler must be one of"), (("popularity",), "needs item_counts")],
)
def test_sampler_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        NegativeSampler(10, *args)


def test_loss_from_logits_equals_loss_from_vectors():
    from recbole_mind.model.sampling import sampled_softmax_from_logits, sampled_softmax_loss

    torch.manual_seed(0)
    users, pos_emb, neg_emb = torch.randn(6, 4), torch.randn(6, 4), torch.randn(9, 4)
    pos_ids, neg_ids = torch.randint(1, 10, (6,)), torch.randint(1, 10, (9,))
    log_q = (torch.rand(6).log(), torch.rand(9).log())
    from_vectors = sampled_softmax_loss(users, pos_emb, pos_ids, neg_emb, neg_ids, *log_q)
    from_logits = sampled_softmax_from_logits(
        (users * pos_emb).sum(-1), pos_ids, users @ neg_emb.t(), neg_ids, *log_q
    )
    assert torch.allclose(from_vectors, from_logits)

