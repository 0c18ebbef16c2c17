"""ComiRec's greedy aggregation, the category difference g and the diversity metrics' values."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recbole_mind.diversity.greedy import DIVERSITY_CANDIDATE_FACTOR, ItemCategories, category_coverage, diverse_merge, greedy_select, list_diversity
from recbole_mind.serving.index import ExactIndex, active_interest_rows, merge_interest_results, retrieve

# items 0, 1: genre A; 2, 3: genre B; 4: A and B; 5: A, B and C; 6: no genre
GENRES = ItemCategories.from_lists([[0], [0], [1], [1], [0, 1], [0, 1, 2], []], n_categories=3)


def test_g_is_the_jaccard_distance_of_the_genre_sets():
    assert GENRES.g(0, 1) == 0.0  # same single genre: ComiRec's indicator
    assert GENRES.g(0, 2) == 1.0  # different single genres
    assert GENRES.g(0, 4) == pytest.approx(0.5)  # {A} vs {A, B}: 1 - 1/2
    assert GENRES.g(4, 5) == pytest.approx(1 - 2 / 3)  # {A, B} vs {A, B, C}
    assert GENRES.g(2, 5) == pytest.approx(1 - 1 / 3)
    assert GENRES.g(6, 0) == 1.0 and GENRES.g(6, 6) == 0.0  # no genre: differs from any genre only
    assert np.allclose(GENRES.difference(np.arange(7), np.arange(7)), GENRES.difference(np.arange(7), np.arange(7)).T)


def test_token_seq_ids_with_padding_become_sets():
    categories = ItemCategories.from_token_ids(np.array([[0, 0], [1, 2], [2, 0], [3, 3]]))
    assert categories.matrix.tolist() == [
        [False, False, False, False], [False, True, True, False], [False, False, True, False], [False, False, False, True]
    ]
    assert ItemCategories.from_token_ids(np.array([0, 2, 1])).matrix[:, 1:].tolist() == [[False, False], [False, True], [True, False]]


def test_lambda_zero_is_the_top_n_by_score_ties_to_the_lower_id():
    picked = greedy_select(np.array([5, 3, 1, 0]), np.array([0.5, 1.0, 1.0, 0.2]), GENRES, 3, 0.0)
    assert picked.tolist() == [1, 3, 5]


def test_a_large_lambda_alternates_the_genres():
    candidates = np.array([0, 1, 2, 3])  # A, A, B, B
    scores = np.array([4.0, 3.0, 2.0, 1.0])
    assert greedy_select(candidates, scores, GENRES, 4, 0.0).tolist() == [0, 1, 2, 3]
    assert greedy_select(candidates, scores, GENRES, 4, 10.0).tolist() == [0, 2, 1, 3]


def test_hand_computed_steps_and_a_tie_of_the_objective():
    candidates, scores = np.array([0, 1, 2]), np.array([1.0, 0.75, 0.5])  # genres A, A, B
    # step 2: item 1 scores 0.75 + lam * 0, item 2 scores 0.5 + lam * 1
    assert greedy_select(candidates, scores, GENRES, 3, 0.125).tolist() == [0, 1, 2]
    assert greedy_select(candidates, scores, GENRES, 3, 0.5).tolist() == [0, 2, 1]
    # lam = 0.25: both 0.75; the tie goes to the higher score
    assert greedy_select(candidates, scores, GENRES, 3, 0.25).tolist() == [0, 1, 2]
    # same score and same objective: the lower id
    assert greedy_select(np.array([3, 2, 0]), np.array([1.0, 0.5, 0.5]), GENRES, 2, 1.0).tolist() == [3, 0]


def test_repeated_candidates_count_once_with_their_best_score():
    picked = greedy_select(np.array([2, 0, 2]), np.array([0.1, 0.5, 0.9]), GENRES, 5, 1.0)
    assert picked.tolist() == [2, 0]


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), True, "0.5", None])
def test_diversity_lambda_must_be_a_finite_number_at_least_zero(bad):
    with pytest.raises(ValueError, match="diversity_lambda must be a finite number >= 0"):
        greedy_select(np.array([0, 1]), np.array([1.0, 0.5]), GENRES, 2, bad)


def test_scores_must_be_finite_and_items_in_the_table():
    with pytest.raises(ValueError, match="must be finite"):
        greedy_select(np.array([0, 1]), np.array([1.0, -np.inf]), GENRES, 2, 1.0)
    with pytest.raises(ValueError, match="have no categories"):
        greedy_select(np.array([0, 70]), np.array([1.0, 0.5]), GENRES, 2, 1.0)


CANDIDATE_LISTS = st.lists(
    st.tuples(st.integers(0, 6), st.integers(-3, 3).map(lambda score: score / 2)), min_size=0, max_size=12
)


@given(CANDIDATE_LISTS, st.integers(0, 9), st.sampled_from([0.0, 0.25, 1.0, 100.0]))
def test_greedy_returns_distinct_candidates_and_at_lambda_zero_the_sorted_top_n(pairs, n, lam):
    candidates = np.array([item for item, _ in pairs], dtype=np.int64)
    scores = np.array([score for _, score in pairs], dtype=np.float64)
    picked = greedy_select(candidates, scores, GENRES, n, lam).tolist()
    best = {}
    for item, score in pairs:
        best[item] = max(score, best.get(item, -np.inf))
    assert len(picked) == len(set(picked)) == min(n, len(best))
    assert set(picked) <= set(best)
    if lam == 0:
        assert picked == sorted(best, key=lambda item: (-best[item], item))[:n]
    elif picked:
        assert best[picked[0]] == max(best.values())  # the first pick is always the best score


@given(st.integers(0, 2**31 - 1), st.integers(1, 8))
def test_diverse_merge_at_lambda_zero_is_merge_interest_results(seed, n):
    rng = np.random.default_rng(seed)
    rows, k, users = int(rng.integers(1, 7)), int(rng.integers(1, 6)), 3
    items = rng.integers(-1, 7, (rows, k))
    scores = rng.integers(0, 4, (rows, k)).astype(np.float32) / 3  # ties and float32 values
    owners = rng.integers(0, users, rows)
    exclude = [rng.integers(0, 7, int(rng.integers(0, 3))) for _ in range(users)]
    for excluded in (None, exclude):
        expected = merge_interest_results(scores, items, owners, users, n, excluded)
        assert diverse_merge(scores, items, owners, users, n, None, 0.0, excluded) == expected
        assert diverse_merge(scores, items, owners, users, n, GENRES, 0.0, excluded) == expected


def test_retrieve_with_diversity_asks_each_interest_for_more_and_diversifies():
    vectors = np.array([[1.0, 0.0]] * 4 + [[0.5, 0.1]] * 3, dtype=np.float32)  # 4 A items beat 3 B items
    vectors[:, 0] -= np.arange(7) * 0.01  # strict order 0 > 1 > ... > 6
    categories = ItemCategories.from_lists([[0]] * 4 + [[1]] * 3, 2)
    index = ExactIndex(vectors)
    rows = active_interest_rows(np.array([[[1.0, 0.0]]]), np.array([[True]]))
    plain = retrieve(index, rows, 1, 2)
    assert [item for item, _ in plain[0]] == [0, 1]
    assert retrieve(index, rows, 1, 2, categories=categories, diversity_lambda=0.0) == plain
    diverse = retrieve(index, rows, 1, 2, categories=categories, diversity_lambda=1.0)
    assert [item for item, _ in diverse[0]] == [0, 4]  # 2 * DIVERSITY_CANDIDATE_FACTOR candidates hold item 4
    assert diverse[0][1][1] == pytest.approx(float(vectors[4, 0]))  # the item's own score
    assert DIVERSITY_CANDIDATE_FACTOR >= 3
    with pytest.raises(ValueError, match="needs the items' categories"):
        retrieve(index, rows, 1, 2, diversity_lambda=1.0)
    with pytest.raises(ValueError, match="diversity_lambda must be"):
        retrieve(index, rows, 1, 2, categories=categories, diversity_lambda=-1.0)


def test_diversity_and_coverage_of_tiny_lists_by_hand():
    ranked = np.array([[0, 1, 2], [0, 4, 6], [2, 3, 3]])
    # user 0: pairs (0,1)=0, (0,2)=1, (1,2)=1 -> 2/3; user 1: 0.5, 1, 1 -> 2.5/3; user 2: 0, 0, 0
    assert list_diversity(ranked, GENRES) == pytest.approx([2 / 3, 2.5 / 3, 0.0])
    assert list_diversity(ranked[:, :2], GENRES) == pytest.approx([0.0, 0.5, 0.0])
    assert list_diversity(ranked[:, :1], GENRES).tolist() == [0.0, 0.0, 0.0]  # no pair
    targets = np.array([[True, True, True], [False, True, False], [False, False, False]])
    coverage = category_coverage(ranked, targets, GENRES)
    assert coverage[:2] == pytest.approx([2 / 3, 1.0]) and np.isnan(coverage[2])  # no target category: skipped
    assert category_coverage(ranked[:, :1], targets, GENRES)[:2] == pytest.approx([1 / 3, 0.0])
