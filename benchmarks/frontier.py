"""Recall-diversity frontier under the multi-target protocol (issue 40, item 3).

Each row (``benchmarks/rows.py``'s names) trains once per seed under the multi-target protocol
with the dataset's genres loaded; its best-validation ranked lists are re-ranked by ComiRec's
greedy (``DiversityReranker``, the same for every model) at every ``diversity_lambda``, on the
validation users (for choosing) and the test users (for the report): Recall@N, NDCG@N,
Diversity@N, CategoryCoverage@N and, for MIND with several interests, the share of the N slots
each interest supplies. ``run`` appends a record per (row, seed) to ``docs/frontier_runs.jsonl``
(skipping those it holds); ``report`` judges on validation whether a row lies above another's
frontier (:func:`dominates`, the noise rule), then reports test at the lambda chosen::

    python -m benchmarks.frontier run --rows "MIND preset" "MIND preset K=1" --seeds 2020 2021 2022
    python -m benchmarks.frontier report          # docs/frontier.md and docs/frontier_ml-100k.png
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Any, Sequence

import numpy as np

from benchmarks import blocks, stats
from benchmarks.rows import ROOT, ROW_COLOURS, row_config
from benchmarks.summary import format_cell
from benchmarks.run import run_environment, run_in_fresh_process, utc_now

RECORDS = os.path.join(ROOT, "docs", "frontier_runs.jsonl")
REPORT = os.path.join(ROOT, "docs", "frontier.md")
N = 50
LAMBDAS = (0.0, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
ROWS = ("MIND preset", "MIND preset K=1", "GRU4Rec tuned", "SASRec tuned")
# the item field holding genres, per dataset
CATEGORY_FIELD = {"ml-100k": "class", "ml-1m": "genre"}
METRICS = ("recall", "ndcg", "diversity", "categorycoverage")
SPLITS = ("valid", "test")


def slot_shares(model, users, ranked: np.ndarray, batch_size: int) -> list[float] | None:
    """For MIND with several interests: the share of all ranked slots whose item scores best
    with interest k, per k (interest 0 is the preset's short-term interest). None otherwise."""
    import torch

    from recbole_mind.model.mind import MIND
    from recbole_mind.model.scoring import interest_scores

    if not isinstance(model, MIND) or model.interest_num == 1:
        return None
    counts = np.zeros(model.interest_num)
    with torch.no_grad():
        for start in range(0, len(users), batch_size):
            stop = min(start + batch_size, len(users))
            batch = users.interaction(start, stop)
            interests, mask = model(batch[model.ITEM_SEQ], batch[model.ITEM_SEQ_LEN], batch)
            per_interest = interest_scores(interests, model.catalogue_vectors(), mask)  # (B, K, items)
            slots = torch.as_tensor(ranked[start:stop])  # (B, N)
            winners = per_interest.gather(2, slots.unsqueeze(1).expand(-1, model.interest_num, -1)).argmax(dim=1)
            counts += np.bincount(winners.flatten().numpy(), minlength=model.interest_num)
    return (counts / counts.sum()).round(4).tolist()


def train_and_sweep(task: dict[str, Any]) -> dict[str, Any]:
    """One row and seed: train, then every lambda on both splits. Runs in a fresh process."""
    sys.argv = sys.argv[:1]  # RecBole's Config reads --key=value from the command line
    import torch

    from recbole_mind.diversity.evaluation import DiversityReranker
    from recbole_mind.protocols.multi_target import build_multi_target_trainer, prepare_multi_target
    from recbole_mind.settings.protocol import read_multi_target_params
    from recbole_mind.protocols.targets import multi_target_metrics, rank_catalogue

    field = CATEGORY_FIELD[task["dataset"]]
    with tempfile.TemporaryDirectory() as work_dir:
        os.chdir(work_dir)
        config = row_config(
            task["row"], task["dataset"], "multi_target", task["seed"], task["data_path"],
            epochs=task["epochs"], checkpoint_dir=os.path.join(work_dir, "saved"),
            load_col={"inter": ["user_id", "item_id", "rating", "timestamp"], "item": ["item_id", field]},
            diversity_category_field=field,
            multi_target_metrics=["Recall", "NDCG", "HitRate", "Diversity", "CategoryCoverage"],
        )
        params = read_multi_target_params(config)
        prepared = prepare_multi_target(config, params)
        trainer = build_multi_target_trainer(config, prepared.model, params)
        trainer.attach_diversity(prepared.dataset, params.metrics)
        trainer.fit(prepared.train_data, prepared.valid_users, saved=True, show_progress=False)
        model = trainer.model
        trainer.evaluate(prepared.valid_users, load_best_model=True)  # restores the best weights
        model.eval()
        points = []
        with torch.no_grad():
            for diversity_lambda in task["lambdas"]:
                reranker = DiversityReranker(model, trainer.diversity_categories, diversity_lambda, N)
                point = {"lambda": diversity_lambda}
                for split, users in (("valid", prepared.valid_users), ("test", prepared.test_users)):
                    ranked = rank_catalogue(model.full_sort_predict, users, model.n_items, N,
                                            trainer.test_batch_size, params.exclude_history, "cpu", reranker)
                    values = multi_target_metrics(ranked, users.targets, [N], params.metrics,
                                                  trainer.diversity_categories)
                    point[split] = {key: float(value) for key, value in values.items()}
                    point[split + "_interest_share"] = slot_shares(model, users, ranked, trainer.test_batch_size)
                points.append(point)
                print(f"[frontier] {task['row']} seed {task['seed']} lambda {diversity_lambda}: "
                      f"valid {point['valid']}", flush=True)
    return {
        "row": task["row"], "dataset": task["dataset"], "seed": task["seed"], "epochs": task["epochs"],
        "n": N, "category_field": field, "points": points,
        "finished": utc_now(),
        "environment": run_environment(),
    }


def read_records(path: str = RECORDS) -> list[dict[str, Any]]:
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def run(rows: Sequence[str], seeds: Sequence[int], dataset: str, lambdas: Sequence[float], epochs: int,
        data_path: str | None, path: str = RECORDS) -> None:
    done = {(record["row"], record["dataset"], record["seed"]) for record in read_records(path)}
    for seed in seeds:  # seeds outermost: a cut-off run still has every row on its first seeds
        for row in rows:
            if (row, dataset, seed) in done:
                print(f"[frontier] {row} seed {seed}: already in {path}")
                continue
            task = {"row": row, "dataset": dataset, "seed": seed, "lambdas": list(lambdas),
                    "epochs": epochs, "data_path": data_path}
            record = run_in_fresh_process(train_and_sweep, task)
            with open(path, "a", encoding="utf-8") as file:
                file.write(json.dumps(record) + "\n")


def point_values(records: list[dict[str, Any]], row: str, split: str, metric: str) -> dict[float, dict[int, float]]:
    """``{lambda: {seed: value}}`` of one row's ``metric@N`` on ``split``."""
    values: dict[float, dict[int, float]] = {}
    for record in records:
        if record["row"] != row:
            continue
        for point in record["points"]:
            values.setdefault(point["lambda"], {})[record["seed"]] = point[split][f"{metric}@{record['n']}"]
    return values


def seed_points(records: list[dict[str, Any]], row: str, split: str) -> dict[int, list[dict[str, float]]]:
    """``{seed: [{"lambda": ..., metric: value, ...}, ...]}`` of one row on ``split``."""
    return {record["seed"]: [{"lambda": point["lambda"],
                              **{metric: point[split][f"{metric}@{record['n']}"] for metric in METRICS}}
                             for point in record["points"]]
            for record in records if record["row"] == row}


def value_at_recall(points: list[dict[str, float]], recall: float, metric: str) -> float | None:
    """``metric`` of a frontier (its points of one seed) at ``recall``, linearly interpolated
    between the two points around it; beyond its highest recall, the value of that point (the
    other row reaches no such recall: it is compared at its best); below its lowest, None."""
    ordered = sorted(points, key=lambda point: point["recall"])
    recalls = [point["recall"] for point in ordered]
    if recall < recalls[0]:
        return None
    return float(np.interp(recall, recalls, [point[metric] for point in ordered]))


def dominates(records: list[dict[str, Any]], row: str, other: str, split: str, diversity_lambda: float) -> dict[str, Any]:
    """Does ``row`` at ``diversity_lambda`` lie above ``other``'s frontier on ``split``?

    Per seed, ``other``'s Diversity@N and CategoryCoverage@N at ``row``'s Recall@N are read off
    ``other``'s frontier of that seed (:func:`value_at_recall`); ``row`` is above when the paired
    differences put it ahead on both under the noise rule. Seeds where ``row``'s recall lies
    below every point of ``other`` cannot be compared ("same recall or better" fails there).
    """
    mine, theirs = seed_points(records, row, split), seed_points(records, other, split)
    differences: dict[str, list[float]] = {"diversity": [], "categorycoverage": []}
    incomparable = []
    for seed in sorted(set(mine) & set(theirs)):
        point = next(point for point in mine[seed] if point["lambda"] == diversity_lambda)
        for metric in differences:
            value = value_at_recall(theirs[seed], point["recall"], metric)
            if value is None:
                incomparable.append(seed)
                break
            differences[metric].append(point[metric] - value)
    if incomparable or len(differences["diversity"]) < stats.MIN_SEEDS:
        return {"above": False, "diversity": None, "coverage": None, "incomparable": sorted(set(incomparable))}
    diversity = stats.paired(differences["diversity"])
    coverage = stats.paired(differences["categorycoverage"])
    return {"above": diversity.verdict == "ahead" and coverage.verdict == "ahead",
            "diversity": diversity, "coverage": coverage, "incomparable": []}


def choose_lambda(records: list[dict[str, Any]], row: str, other: str) -> float | None:
    """The lambda > 0 at which ``row`` lies above ``other`` on validation with the highest mean
    validation Recall@N; None if there is none."""
    recall = point_values(records, row, "valid", "recall")
    winners = [lam for lam in sorted(recall) if lam > 0 and dominates(records, row, other, "valid", lam)["above"]]
    return max(winners, key=lambda lam: np.mean(list(recall[lam].values())), default=None)


def frontier_table(records: list[dict[str, Any]], rows: Sequence[str], split: str) -> str:
    lines = [f"| row | lambda | seeds | Recall@{N} | NDCG@{N} | Diversity@{N} | CategoryCoverage@{N} | slots per interest |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        recall = point_values(records, row, split, "recall")
        for diversity_lambda in sorted(recall):
            cells = [format_cell(*stats.mean_std(list(point_values(records, row, split, metric)[diversity_lambda].values())))
                     for metric in METRICS]
            shares = [point[split + "_interest_share"] for record in records if record["row"] == row
                      for point in record["points"] if point["lambda"] == diversity_lambda]
            share = " / ".join(f"{value:.2f}" for value in np.mean(shares, axis=0)) if shares and shares[0] else ""
            lines.append(f"| {row} | {diversity_lambda:g} | {len(recall[diversity_lambda])} | " + " | ".join(cells) + f" | {share} |")
    return "\n".join(lines)


def verdict_lines(records: list[dict[str, Any]], row: str, others: Sequence[str]) -> list[str]:
    lines = []
    for other in others:
        chosen = choose_lambda(records, row, other)
        if chosen is None:
            lines.append(f"- {row} against {other}: on validation no lambda > 0 puts {row} above {other}'s "
                         f"frontier (Diversity@{N} AND CategoryCoverage@{N} ahead at the same Recall@{N}): "
                         "target NOT met.")
            continue
        test = dominates(records, row, other, "test", chosen)
        if test["diversity"] is None:
            detail = f"its test Recall@{N} lies below all of {other}'s on seeds {test['incomparable']}"
        else:
            detail = (f"at the same Recall@{N}: Diversity@{N} {stats.describe(test['diversity'])}, "
                      f"CategoryCoverage@{N} {stats.describe(test['coverage'])}")
        lines.append(f"- {row} against {other}: lambda {chosen:g} chosen on validation; on test "
                     f"{'above, target met' if test['above'] else 'not above, target NOT met'} ({detail}).")
    return lines


def plot(records: list[dict[str, Any]], rows: Sequence[str], split: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for row in rows:
        recall = point_values(records, row, split, "recall")
        lambdas = sorted(recall)
        x = [np.mean(list(recall[lam].values())) for lam in lambdas]
        for axis, metric, label in ((axes[0], "diversity", f"Diversity@{N}"), (axes[1], "categorycoverage", f"CategoryCoverage@{N}")):
            values = point_values(records, row, split, metric)
            axis.plot(x, [np.mean(list(values[lam].values())) for lam in lambdas], marker="o", label=row,
                      color=ROW_COLOURS.get(row))
            axis.set_xlabel(f"Recall@{N} ({split})")
            axis.set_ylabel(label)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"recall-diversity frontier, lambda in {', '.join(f'{lam:g}' for lam in LAMBDAS)} (mean over seeds)")
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def report_block(path: str = RECORDS) -> str:
    """The generated part of docs/frontier.md (``benchmarks/figures.py`` checks it): method,
    verdicts, plot link and the tables of both splits."""
    records = read_records(path)
    if not records:
        return f"No records in `{os.path.relpath(path, ROOT)}` yet: `python -m benchmarks.frontier run`.\n"
    rows = [row for row in ROWS if any(record["row"] == row for record in records)]
    dataset = records[0]["dataset"]
    others = [row for row in rows if row != "MIND preset"]
    seeds = ", ".join(str(seed) for seed in sorted({record["seed"] for record in records}))
    return "\n".join([
        f"From `{os.path.relpath(path, ROOT)}` (`python -m benchmarks.frontier report` regenerates this "
        f"block and the plot). Dataset {dataset}, categories `{records[0]['category_field']}`, N = {N}; "
        "each row trained once per seed "
        f"({seeds}), at most {records[0]['epochs']} epochs, its best validation Recall@50 kept; its "
        "lists re-ranked by ComiRec's greedy at each lambda (0 = ranked by score). Slots per "
        "interest: the share of the top-N slots whose item scores best with interest 0, 1, ... "
        "(the preset's interest 0 pools the latest behaviours).",
        "",
        "### Verdicts (lambda chosen on validation users, judged on test users)",
        "",
        *verdict_lines(records, "MIND preset", others),
        "",
        f"![frontier](frontier_{dataset}.png)",
        "",
        "### Test users",
        "",
        frontier_table(records, rows, "test"),
        "",
        "### Validation users",
        "",
        frontier_table(records, rows, "valid"),
        "",
    ])


def report(path: str = RECORDS, out: str = REPORT) -> str:
    """Write the plot and the generated block of ``out`` (the page is created if missing)."""
    records = read_records(path)
    if not records:
        raise SystemExit(f"no records in {path}: run `python -m benchmarks.frontier run` first")
    rows = [row for row in ROWS if any(record["row"] == row for record in records)]
    plot(records, rows, "test", os.path.join(os.path.dirname(out), f"frontier_{records[0]['dataset']}.png"))
    body = report_block(path)
    if os.path.isfile(out):
        with open(out, encoding="utf-8") as file:
            text = blocks.replace_blocks(blocks.block_pattern("figures"), file.read(), {"frontier": body}, out)
    else:
        text = f"# Recall-diversity frontier (multi-target protocol)\n\n<!-- figures: frontier -->\n{body}<!-- /figures: frontier -->\n"
    with open(out, "w", encoding="utf-8") as file:
        file.write(text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.frontier", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    runner = commands.add_parser("run", help="train rows and sweep lambda")
    runner.add_argument("--rows", nargs="+", default=list(ROWS))
    runner.add_argument("--seeds", nargs="+", type=int, default=[2020, 2021, 2022])
    runner.add_argument("--dataset", default="ml-100k", choices=sorted(CATEGORY_FIELD))
    runner.add_argument("--data_path", default=None)
    runner.add_argument("--lambdas", nargs="+", type=float, default=list(LAMBDAS))
    runner.add_argument("--epochs", type=int, default=20, help="epoch budget (the benchmark's)")
    runner.add_argument("--records", default=RECORDS)
    reporter = commands.add_parser("report", help="write docs/frontier.md and its plot")
    reporter.add_argument("--records", default=RECORDS)
    reporter.add_argument("--out", default=REPORT)
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.rows, args.seeds, args.dataset, args.lambdas, args.epochs, args.data_path, args.records)
    else:
        print(report(args.records, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
