"""Retrieval benchmark: exact faiss vs full_sort_predict on ml-100k; ANN quality and speed at scale.

    python -m benchmarks.retrieval                 # both parts, default indexes, writes docs/retrieval.md
    python -m benchmarks.retrieval --sweep --skip_ml100k --sizes 1000000   # which IVF/HNSW settings meet the target
    python -m benchmarks.retrieval --sizes 10000 --users 200 --rounds 2 --skip_ml100k --out /tmp/r.md  # smoke
    python -m benchmarks.retrieval --vectors EXPORT_DIR --skip_ml100k --out docs/retrieval_trained.md  # trained vectors

``--vectors`` times the indexes on the item and interest vectors ``python -m recbole_mind.retrieval
export`` wrote from a trained model (its first ``--users`` users) instead of synthetic clusters.
Every run also writes its figures as a JSON record beside the page (``--out`` with ``.json``).

Part 1 checks that exact retrieval (one faiss query per active interest, merged by max score)
returns the top-50 of RecBole's ``full_sort_predict`` for every ml-100k test user. Part 2 times,
on synthetic catalogues shaped like trained embeddings, the exact index and serving's ``ivf`` and
``hnsw`` defaults (``--sweep``: a grid around them) in interleaved rounds with 1 and 2 faiss
threads: queries/s, speed-up over exact, per-user p50/p99 (also with ``diversity_lambda > 0``),
build time, size and recall@50 against exact. Both go through ``recbole_mind/serving/index.py``,
which part 2 imports with ``diversity.greedy``. Run it on an idle machine: a 1-minute load above 0.5
at start makes the target verdict not valid.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Callable, NamedTuple

import numpy as np

from benchmarks import retrieval_timing as timing
from benchmarks.run import run_environment, utc_now

HERE = os.path.dirname(os.path.abspath(__file__))

TOP = timing.TOP
EXACT = "IndexFlatIP (exact)"


def serving_module(name: str):
    """The package's ``recbole_mind.<name>`` (``serving.index``, ``diversity.greedy``): their
    functions compute with numpy and faiss only."""
    import importlib

    return importlib.import_module(f"recbole_mind.{name}")


def serving_index():
    return serving_module("serving.index")


def exactness_on_ml100k(checkpoint: str | None, epochs: int, work_dir: str) -> dict:
    import torch

    from recbole_mind import run_recbole_mind
    from recbole_mind.training.checkpoint import load_data_and_model
    from recbole_mind.serving.index import active_interest_rows, build_index, retrieve
    from recbole_mind.serving.users import item_ids_of_rows, item_vectors

    os.makedirs(work_dir, exist_ok=True)
    os.chdir(work_dir)
    if checkpoint is None:
        print(f"[retrieval] training MIND on ml-100k, {epochs} epochs ...", flush=True)
        run = run_recbole_mind("MIND", "ml-100k", config_dict={"epochs": epochs, "show_progress": False, "state": "WARNING"})
        checkpoint = run["checkpoint"]
    _, model, _, _, _, test_data = load_data_and_model(checkpoint)
    index = build_index(item_vectors(model), "flat")
    same_set = same_order = users = 0
    with torch.no_grad():
        for batch in test_data:
            interaction = batch[0]
            scores = model.full_sort_predict(interaction)
            scores[:, 0] = -np.inf  # RecBole never ranks the padding item
            torch_top = torch.topk(scores, TOP, dim=1).indices.numpy()
            interests, mask = model(interaction[model.ITEM_SEQ], interaction[model.ITEM_SEQ_LEN], interaction)
            found = retrieve(index, active_interest_rows(interests.numpy(), mask.numpy()), len(scores), TOP)
            for row, items in enumerate(found):
                ids = item_ids_of_rows([item for item, _ in items]).tolist()
                same_set += set(ids) == set(torch_top[row])
                same_order += ids == list(torch_top[row])
                users += 1
    return {"checkpoint": checkpoint, "users": users, "same_set": same_set, "same_order": same_order}


class Setting(NamedTuple):
    """One timed index: its build (indexes that differ only in search-time levers share one)
    and its search-time levers."""

    label: str
    kind: str
    build: dict  # build_index options: hnsw_m, ivf_lists
    search: dict  # hnsw_ef_search / ivf_probes

    @property
    def build_key(self) -> tuple:
        return (self.kind, *sorted(self.build.items()))


def ivf_setting(lists: int, probes: int, default: bool = False) -> Setting:
    return Setting(f"IVF{lists} nprobe={probes}" + (" (default)" if default else ""), "ivf",
                   {"ivf_lists": lists}, {"ivf_probes": probes})


def hnsw_setting(m: int, ef: int, default: bool = False) -> Setting:
    return Setting(f"HNSW M={m} efSearch={ef}" + (" (default)" if default else ""), "hnsw",
                   {"hnsw_m": m}, {"hnsw_ef_search": ef})


def default_settings(n_items: int) -> list[Setting]:
    """The exact index and the ``ivf`` and ``hnsw`` defaults of serving/index.py."""
    index = serving_index()
    return [Setting(EXACT, "flat", {}, {}),
            ivf_setting(index.default_ivf_lists(n_items), index.IVF_PROBES, default=True),
            hnsw_setting(index.HNSW_M, index.HNSW_EF_SEARCH, default=True)]


SWEEP_CELLS = (1, 2, 4)  # IVF cells as multiples of sqrt(N)
SWEEP_PROBES = (2, 4, 8, 16)
SWEEP_M = (16, 32)
SWEEP_EF = (32, 64, 128)


def sweep_settings(n_items: int) -> list[Setting]:
    """The exact index, then IVF (cells x sqrt(N) in SWEEP_CELLS, capped at N / 39 like the
    default, x SWEEP_PROBES) and HNSW (SWEEP_M x SWEEP_EF); the defaults are marked."""
    index = serving_index()
    cap = max(1, n_items // 39)
    lists = dict.fromkeys(max(1, min(int(round(m * np.sqrt(n_items))), cap)) for m in SWEEP_CELLS)
    default_ivf = (index.default_ivf_lists(n_items), index.IVF_PROBES)
    default_hnsw = (index.HNSW_M, index.HNSW_EF_SEARCH)
    settings = [Setting(EXACT, "flat", {}, {})]
    settings += [ivf_setting(n, p, (n, p) == default_ivf) for n in lists for p in SWEEP_PROBES]
    settings += [hnsw_setting(m, ef, (m, ef) == default_hnsw) for m in SWEEP_M for ef in SWEEP_EF]
    return settings


def build_all(items: np.ndarray, settings: list[Setting]) -> dict[tuple, tuple]:
    """build key -> (index, build seconds, serialized MB), each distinct build once, with
    faiss's current threads."""
    import faiss

    serving, built = serving_index(), {}
    for setting in settings:
        if setting.build_key in built:
            continue
        start = time.perf_counter()
        index = serving.build_index(items, setting.kind, **setting.build)
        seconds = time.perf_counter() - start
        built[setting.build_key] = (index, seconds, len(faiss.serialize_index(index)) / 2**20)
        print(f"[retrieval] {len(items):,} items: built {setting.label.split(' nprobe')[0].split(' efSearch')[0]} "
              f"in {seconds:.1f} s", flush=True)
    return built


def exported_vectors(folder: str, users: int):
    """Item vectors ``(N, d)`` and the interest rows of the first ``users`` users of an export
    (``python -m recbole_mind.retrieval export``), as serving queries them."""
    from recbole_mind.serving.export import load_vectors
    from recbole_mind.serving.index import InterestRows

    exported = load_vectors(folder)
    tokens = exported["user_tokens"]
    starts = np.flatnonzero(np.r_[True, tokens[1:] != tokens[:-1]])  # rows are grouped by user
    owners = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(tokens)]))
    keep = owners < users
    rows = InterestRows(owners[keep].astype(np.int64), exported["interest_index"][keep].astype(np.int64),
                        np.ascontiguousarray(exported["interest_vectors"][keep], dtype=np.float32))
    return np.ascontiguousarray(exported["item_vectors"], dtype=np.float32), rows


def merged_sets(index, rows, users: int) -> list[set[int]]:
    """Per user, the index rows of their merged top-50 (one batch search of all interest rows)."""
    scores, positions = index.search(rows.vectors, TOP)
    found = serving_index().merge_interest_results(scores, positions, rows.owners, users, TOP)
    return [{item for item, _ in user_items} for user_items in found]


def diverse_step(n_items: int, args) -> tuple[int, Callable] | None:
    """Serving's ``diversity_lambda > 0`` path for the latency column: the candidates asked per
    interest and ``diverse_merge`` bound to synthetic categories and ``--diversity_lambda``."""
    if args.diversity_lambda <= 0:
        return None
    diversity = serving_module("diversity.greedy")
    categories = diversity.ItemCategories.from_token_ids(timing.synthetic_categories(n_items, args.seed))

    def merge(scores, positions, owners, users, n):
        return diversity.diverse_merge(scores, positions, owners, users, n, categories, args.diversity_lambda)

    return TOP * diversity.DIVERSITY_CANDIDATE_FACTOR, merge


def run_size(n_items: int, args, settings: list[Setting]) -> dict:
    """Build, then time ``settings`` in interleaved rounds at one catalogue size.

    Returns ``{"rows": [...], "loads": [(1, 5, 15 min) per round]}``; a row per setting and
    thread count with medians over rounds.
    """
    import faiss

    serving = serving_index()
    if args.vectors:
        items, rows = exported_vectors(args.vectors, args.users)
    else:
        items, interests, mask = timing.synthetic(n_items, args.users, args.dim, args.interest_num, args.clusters,
                                                  args.seed)
        rows = serving.active_interest_rows(interests, mask)
    built = build_all(items, settings)
    diverse = diverse_step(n_items, args)
    # untimed pass: recall of each setting (threads do not change results) and a warm-up
    recall, exact_sets = {}, None
    for setting in settings:
        index = built[setting.build_key][0]
        timing.configure(index, setting.search)
        found = merged_sets(index, rows, args.users)
        exact_sets = exact_sets or found
        recall[setting.label] = timing.recall_at_top(found, exact_sets)
    seconds = {(s.label, t): [] for s in settings for t in args.threads}
    latency = {(s.label, t): [] for s in settings for t in args.threads}
    diversified = {(s.label, t): [] for s in settings for t in args.threads}
    loads, build_threads = [], faiss.omp_get_max_threads()
    for round_index in range(args.rounds):
        loads.append(timing.machine_load())
        print(timing.load_line(f"round {round_index + 1}/{args.rounds}", loads[-1], os.cpu_count()), flush=True)
        for threads, setting in timing.round_schedule(settings, args.threads, round_index):
            faiss.omp_set_num_threads(threads)
            index = built[setting.build_key][0]
            timing.configure(index, setting.search)
            key = (setting.label, threads)
            seconds[key].append(timing.time_batch(index, rows.vectors))
            # the exact index costs ~0.1 s per user at 1M items: fewer users keep rounds short
            users = min(args.users, args.exact_latency_users if setting.kind == "flat" else args.latency_users)
            timed = timing.user_latencies(index, rows.vectors, rows.owners, users, serving.merge_interest_results,
                                          diverse)
            latency[key].append(timed.merged)
            if timed.diverse is not None:
                diversified[key].append(timed.diverse)
    faiss.omp_set_num_threads(build_threads)  # the next size builds with faiss's default again
    table = []
    for threads in args.threads:
        ratios = timing.median_ratios({s.label: seconds[(s.label, threads)] for s in settings}, EXACT)
        for setting in settings:
            key = (setting.label, threads)
            ms = np.concatenate(latency[key])
            div = np.concatenate(diversified[key]) if diversified[key] else None
            _, build_seconds, memory_mb = built[setting.build_key]
            table.append({
                "items": n_items, "index": setting.label, "kind": setting.kind, "threads": threads,
                "build_seconds": build_seconds, "memory_mb": memory_mb, "recall": recall[setting.label],
                "qps": timing.median_qps(seconds[key], len(rows.vectors)), "x_exact": ratios[setting.label],
                "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
                "p99_div_ms": None if div is None else float(np.percentile(div, 99)),
                "latency_users": len(ms),
            })
            row = table[-1]
            print(f"[retrieval]   {setting.label}, {threads} thread(s): recall@50 {row['recall']:.4f}, "
                  f"{row['qps']:,.0f} queries/s ({row['x_exact']:.1f}x exact), p50 {row['p50_ms']:.2f} ms, "
                  f"p99 {row['p99_ms']:.2f} ms per user", flush=True)
    return {"rows": table, "loads": loads}

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="catalogue sizes")
    parser.add_argument("--users", type=int, default=1000, help="users; each asks K interest queries")
    parser.add_argument("--interest_num", type=int, default=4)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds; figures are medians")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="faiss thread counts, timed separately")
    parser.add_argument("--sweep", action="store_true", help="time a small grid of IVF and HNSW settings")
    parser.add_argument("--latency_users", type=int, default=200, help="users timed one at a time per round")
    parser.add_argument("--exact_latency_users", type=int, default=20, help="the same for the (slow) exact index")
    parser.add_argument("--diversity_lambda", type=float, default=0.1,
                        help="lambda of the latency column with diversity (its cost barely depends on it); 0: no column")
    parser.add_argument("--checkpoint", default=None, help="a MIND checkpoint on ml-100k (default: train one)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs when training part 1's model")
    parser.add_argument("--skip_ml100k", action="store_true", help="only the synthetic part")
    parser.add_argument("--vectors", default=None,
                        help="an export folder (items.npz, interests.npz): time the indexes on trained vectors")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "docs", "retrieval.md"))
    parser.add_argument("--work_dir", default=os.path.join(os.getcwd(), "retrieval_runs"))
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    out = os.path.abspath(args.out)

    start_load = timing.machine_load()
    print(timing.load_line("at start", start_load, os.cpu_count()), flush=True)
    if not timing.idle(start_load):
        print(f"[retrieval] WARNING: 1-min load {start_load[0]:.2f} > {timing.IDLE_LOAD}: the machine is not idle, "
              "the figures will not be valid for the target", flush=True)
    exactness = None if args.skip_ml100k else exactness_on_ml100k(args.checkpoint, args.epochs, args.work_dir)
    sizes = {}
    if args.vectors:
        args.sizes = [len(exported_vectors(args.vectors, 0)[0])]
        args.users = min(args.users, int(exported_vectors(args.vectors, args.users)[1].owners.max()) + 1)
    for size in args.sizes:
        settings = sweep_settings(size) if args.sweep else default_settings(size)
        sizes[size] = run_size(size, args, settings)

    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as file:
        file.write(timing.report(args, argv, exactness, sizes, start_load))
    record = os.path.splitext(out)[0] + ".json"
    with open(record, "w", encoding="utf-8") as file:
        json.dump({"command": " ".join(["python -m benchmarks.retrieval", *argv]), "finished": utc_now(),
                   "environment": run_environment(), "start_load": list(start_load),
                   "vectors": args.vectors, "exactness": exactness,
                   "sizes": {str(size): result for size, result in sizes.items()}}, file, indent=1)
        file.write("\n")
    print(f"[retrieval] wrote {out} and {record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
