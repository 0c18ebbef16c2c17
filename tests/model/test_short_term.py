import torch
from hypothesis import given
from hypothesis import strategies as st

from recbole_mind.model.short_term import RecencyWeights, recency_index, recent_behaviour_weights


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


@given(lengths=st.lists(st.integers(0, 12), min_size=1, max_size=6), window=st.integers(1, 12),
       learned=st.booleans())
def test_recency_weights_start_as_the_plain_window_and_train_only_when_learned(lengths, window, learned):
    seq_len = torch.tensor(lengths)
    layer = RecencyWeights(window, learned=learned)
    assert torch.equal(layer(seq_len, 12), recent_behaviour_weights(seq_len, 12, window))
    # fixed weights are neither trained nor saved: checkpoints of plain windows hold none
    assert [name for name, _ in layer.named_parameters()] == (["weight"] if learned else [])
    assert list(layer.state_dict()) == (["weight"] if learned else [])


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

