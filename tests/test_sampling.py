import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from recbole_mind.sampling import (
    NegativeSampler,
    hard_negative_cross_entropy,
    hard_negative_log_weights,
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
    from recbole_mind.sampling import sampled_softmax_from_logits, sampled_softmax_loss

    torch.manual_seed(0)
    users, pos_emb, neg_emb = torch.randn(6, 4), torch.randn(6, 4), torch.randn(9, 4)
    pos_ids, neg_ids = torch.randint(1, 10, (6,)), torch.randint(1, 10, (9,))
    log_q = (torch.rand(6).log(), torch.rand(9).log())
    from_vectors = sampled_softmax_loss(users, pos_emb, pos_ids, neg_emb, neg_ids, *log_q)
    from_logits = sampled_softmax_from_logits(
        (users * pos_emb).sum(-1), pos_ids, users @ neg_emb.t(), neg_ids, *log_q
    )
    assert torch.allclose(from_vectors, from_logits)


def _hard_negative_loss_by_hand(logits: torch.Tensor, targets: torch.Tensor, beta: float) -> torch.Tensor:
    """REMI's weighted denominator, one row at a time: exp(s+) + sum_j w_j exp(s_j)."""
    losses = []
    for row, target in enumerate(targets.tolist()):
        negatives = [j for j in range(logits.size(1)) if j != target]
        scores = logits[row, negatives]
        weights = torch.exp(beta * scores) / torch.exp(beta * scores).mean()
        denominator = torch.exp(logits[row, target]) + (weights * torch.exp(scores)).sum()
        losses.append(torch.log(denominator) - logits[row, target])
    return torch.stack(losses).mean()


@given(st.integers(0, 10_000), st.integers(1, 5), st.integers(2, 9), st.sampled_from([0.0, 0.3, 1.0, 4.0]))
def test_hard_negative_cross_entropy_is_remis_weighted_softmax(seed, batch, n_items, beta):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, n_items, generator=generator, dtype=torch.float64)
    targets = torch.randint(0, n_items, (batch,), generator=generator)
    loss = hard_negative_cross_entropy(logits, targets, beta)
    assert loss.item() == pytest.approx(_hard_negative_loss_by_hand(logits, targets, beta).item(), rel=1e-9)
    plain = torch.nn.functional.cross_entropy(logits, targets)
    if beta == 0:
        assert loss.item() == pytest.approx(plain.item(), rel=1e-12)
    else:  # weights rising with the score can only raise the denominator
        assert loss.item() >= plain.item() - 1e-12


def test_hard_negative_loss_grows_with_beta_and_stays_finite_on_large_scores():
    torch.manual_seed(5)
    logits = torch.randn(4, 30) * 50  # exp(beta * s) alone would overflow
    targets = torch.randint(0, 30, (4,))
    losses = [hard_negative_cross_entropy(logits, targets, beta).item() for beta in (0.0, 0.5, 2.0, 10.0)]
    assert all(math.isfinite(loss) for loss in losses)
    assert losses == sorted(losses)


def test_hard_negative_weights_carry_no_gradient():
    scores = torch.randn(3, 6, requires_grad=True)
    negatives = torch.ones(3, 6, dtype=torch.bool)
    # detached: the weights are constants to the optimiser, as a sampling distribution would be
    assert not hard_negative_log_weights(scores, negatives, 2.0).requires_grad


def test_hard_negative_weights_have_mean_one_over_each_rows_negatives():
    scores = torch.tensor([[1.0, 2.0, 3.0, 9.0], [0.0, 0.0, 5.0, 5.0]])
    negatives = torch.tensor([[True, True, True, False], [False, False, False, False]])
    log_weights = hard_negative_log_weights(scores, negatives, 1.0)
    assert torch.exp(log_weights[0, :3]).mean().item() == pytest.approx(1.0)
    assert log_weights[0, 3] == -math.inf
    assert torch.all(log_weights[1] == -math.inf)  # a row without negatives: no NaN
    # drawn from Q: the weights' importance-sampling mean over the catalogue, sum (w / Q) / sum (1 / Q), is 1
    log_q = torch.log(torch.tensor([0.5, 0.2, 0.05, 0.25]))
    weights = torch.exp(hard_negative_log_weights(scores, negatives, 1.0, log_q)[0, :3])
    inverse_q = torch.exp(-log_q[:3])
    assert ((weights * inverse_q).sum() / inverse_q.sum()).item() == pytest.approx(1.0)


@given(st.integers(0, 10_000), st.integers(1, 5), st.integers(1, 10), st.booleans())
def test_hard_sampled_softmax_skips_accidental_hits_and_is_plain_at_beta_zero(seed, batch, num_negatives, log_q):
    generator = torch.Generator().manual_seed(seed)
    pos_ids = torch.randint(1, 5, (batch,), generator=generator)
    neg_ids = torch.randint(1, 5, (num_negatives,), generator=generator)
    pos_logits = torch.randn(batch, generator=generator, dtype=torch.float64)
    neg_logits = torch.randn(batch, num_negatives, generator=generator, dtype=torch.float64)
    sampler = NegativeSampler(5, "popularity", torch.tensor([0.0, 5.0, 1.0, 0.0, 2.0]))
    q = (sampler.log_q(pos_ids).double(), sampler.log_q(neg_ids).double()) if log_q else (None, None)
    plain = sampled_softmax_from_logits(pos_logits, pos_ids, neg_logits, neg_ids, *q)
    same = sampled_softmax_from_logits(pos_logits, pos_ids, neg_logits, neg_ids, *q, 0.0)
    hard = sampled_softmax_from_logits(pos_logits, pos_ids, neg_logits, neg_ids, *q, 3.0)
    assert same.item() == plain.item()
    assert math.isfinite(hard.item()) and hard.item() >= plain.item() - 1e-12
    # only accidental hits: nothing to weigh, the loss of each such row is 0 under both
    only_hits = sampled_softmax_from_logits(
        pos_logits[:1], pos_ids[:1], neg_logits[:1, :1], pos_ids[:1], None, None, 3.0
    )
    assert only_hits.item() == 0.0
