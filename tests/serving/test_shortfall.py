"""Every index returns the N items asked for whenever the user has N items left; a user with
fewer (or none) gets fewer and a note saying why."""

import numpy as np
import pytest

from recbole_mind.diversity.greedy import ItemCategories
from recbole_mind.serving.index import active_interest_rows, build_index, retrieve

ITEMS, DIM, N = 400, 8, 60
# IVF with one of ten cells scanned finds about 40 items per query: with most of them seen, the
# lists run dry long before N.
INDEXES = [("flat", {}), ("ivf", {"ivf_lists": 10, "ivf_probes": 1}), ("hnsw", {"hnsw_m": 4, "hnsw_ef_search": 4})]


def random_case(seen_counts, seed=0):
    """Item vectors, one query row per interest (2 per user) and each user's seen item rows."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((ITEMS, DIM)).astype(np.float32)
    interests = rng.standard_normal((len(seen_counts), 2, DIM)).astype(np.float32)
    rows = active_interest_rows(interests, np.ones((len(seen_counts), 2), bool))
    seen = [rng.choice(ITEMS, count, replace=False) for count in seen_counts]
    return vectors, interests, rows, seen


def true_scores(vectors, interests, user):
    return (vectors @ interests[user].T).max(axis=1)


@pytest.mark.parametrize("kind, options", INDEXES)
@pytest.mark.parametrize("diversity_lambda", [0.0, 0.5])
def test_every_index_returns_n_unseen_items_whenever_the_user_has_them(kind, options, diversity_lambda):
    seen_counts = (300, 340, 0)  # 100, 60 and 400 items left: N = 60 each
    vectors, interests, rows, seen = random_case(seen_counts)
    index = build_index(vectors, kind, **options)
    categories = ItemCategories.from_lists([[row % 5] for row in range(ITEMS)])
    found = retrieve(index, rows, len(seen_counts), N, seen, categories, diversity_lambda)
    for user, items in enumerate(found):
        rows_found = [row for row, _ in items]
        assert len(rows_found) == N and len(set(rows_found)) == N, (kind, user, len(rows_found))
        assert not set(rows_found) & set(seen[user].tolist()) and items.note is None
        scores, truth = np.array([score for _, score in items]), true_scores(vectors, interests, user)[rows_found]
        # an approximate index may find an item through one interest only: its score is that one's
        assert (scores <= truth + 1e-5).all() and (kind != "flat" or np.allclose(scores, truth, atol=1e-5))
        if diversity_lambda == 0:
            assert list(scores) == sorted(scores, reverse=True)
    if kind == "ivf":
        assert index.nprobe == 1  # widened for the search only: the index keeps its settings
    if kind == "hnsw":
        assert index.hnsw.efSearch == 4


@pytest.mark.parametrize("kind, options", INDEXES)
def test_a_user_with_fewer_items_left_than_asked_gets_them_all_and_a_note(kind, options):
    vectors, interests, rows, seen = random_case((ITEMS - 25, ITEMS, 0))
    found = retrieve(build_index(vectors, kind, **options), rows, 3, N, seen + [], exclusion="already seen")
    left = sorted(set(range(ITEMS)) - set(seen[0].tolist()))
    assert sorted(row for row, _ in found[0]) == left  # every one of the 25 left, best first
    assert found[0].note == f"only 25 items left to recommend: {ITEMS - 25} of the {ITEMS} items are already seen"
    assert found[1] == [] and found[1].note == f"no items left to recommend: all {ITEMS} items are already seen"
    assert len(found[2]) == N and found[2].note is None
    wide = retrieve(build_index(vectors, kind, **options), rows, 3, ITEMS + 5)
    assert len(wide[2]) == ITEMS and wide[2].note == f"only {ITEMS} items in the catalogue"


def test_a_user_without_query_rows_is_told_so():
    vectors, interests, _, _ = random_case((0, 0))
    rows = active_interest_rows(interests, np.array([[True, True], [False, False]]))
    found = retrieve(build_index(vectors, "flat"), rows, 2, 5)
    assert len(found[0]) == 5 and found[1] == [] and "no interest vector to query" in found[1].note


class StingyIndex:
    """An index that finds at most 3 results per query, whatever k, and cannot give its vectors
    back: retrieval cannot fill N and says so instead of returning a short list silently."""

    def __init__(self, vectors):
        self.exact = build_index(vectors, "flat")
        self.ntotal = self.exact.ntotal

    def search(self, queries, k):
        scores, items = self.exact.search(queries, k)
        items[:, 3:] = -1
        return scores, items


def test_an_index_that_cannot_be_widened_or_searched_exactly_is_named_in_the_note():
    vectors, interests, rows, _ = random_case((0,))
    found = retrieve(StingyIndex(vectors), rows, 1, 10)
    assert 3 <= len(found[0]) <= 6
    assert found[0].note == f"the index found only {len(found[0])} of the 10 items left and cannot be searched exactly"


@pytest.mark.parametrize("kind, options", [("ivf", {"ivf_probes": 1}), ("hnsw", {"hnsw_ef_search": 4})])
def test_a_checkpoints_users_get_n_unseen_items_from_every_index(in_trained_dir, kind, options):
    from recbole_mind.serving.export import retrieve_for_users

    checkpoint, _, _, _, dataset = in_trained_dir
    users = [str(token) for token in dataset.id2token(dataset.uid_field, [1, 2, 3])]
    found = retrieve_for_users(checkpoint, users, n=100, index_kind=kind, exclude_seen=True, **options)
    assert all(len(found[user]) == 100 and found[user].note is None for user in users)
