"""``python -m recbole_mind.retrieval ...`` and the serving names docs/serving.md documents.

The code lives in ``recbole_mind.serving`` (``index``, ``users``, ``export``, ``explain``,
``cli``); this module only keeps the command and these names where users found them.
"""

import sys

from recbole_mind.serving.cli import main
from recbole_mind.serving.explain import explain, item_titles, plot_routing
from recbole_mind.diversity.greedy import ItemCategories, diverse_merge, greedy_select
from recbole_mind.serving.export import export_vectors, load_vectors, retrieve_for_users
from recbole_mind.serving.index import ExactIndex, active_interest_rows, build_index, merge_interest_results, retrieve
from recbole_mind.serving.users import (
    item_vectors,
    latest_histories,
    load_mind,
    serve_users,
    user_ids_of,
    user_interests,
)

__all__ = [
    "ExactIndex", "ItemCategories", "active_interest_rows", "build_index", "diverse_merge", "explain",
    "export_vectors", "greedy_select", "item_titles",
    "item_vectors", "latest_histories", "load_mind", "load_vectors", "main", "merge_interest_results",
    "plot_routing", "retrieve", "retrieve_for_users", "serve_users", "user_ids_of", "user_interests",
]

if __name__ == "__main__":
    sys.exit(main())
