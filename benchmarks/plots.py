"""The report's plots: headline metrics per row, and validation quality against training time."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.rows import MODELS, PROTOCOLS, run_section


def write_plot(summary: dict, path: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("[compare] matplotlib is not installed: no plot (pip install matplotlib)")
        return False
    datasets = sorted({dataset for dataset, _ in summary})
    figure, axes = plt.subplots(len(datasets), 3, figsize=(15, 3.6 * len(datasets)), squeeze=False)
    for row_index, dataset in enumerate(datasets):
        rows = [row for row in MODELS if (dataset, row) in summary]
        quality, recall = PROTOCOLS[summary[(dataset, rows[0])]["protocol"]].headline
        panels = [(quality, f"test {quality}"), (recall, f"test {recall}"), ("epoch_seconds", "s / train epoch")]
        for col_index, (key, title) in enumerate(panels):
            axis = axes[row_index][col_index]
            means = [summary[(dataset, row)][key][0] for row in rows]
            stds = [summary[(dataset, row)][key][1] for row in rows]
            colors = ["tab:red" if row.startswith("MIND") else "tab:gray" for row in rows]
            axis.bar(rows, means, yerr=stds, capsize=4, color=colors)
            axis.set_title(f"{dataset}: {title}")
            axis.tick_params(axis="x", rotation=30)
            if key == "epoch_seconds":
                axis.set_yscale("log")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write_curve_plot(runs: list[dict[str, Any]], path: str) -> list[str]:
    """Time to quality: the validation metric against cumulative training seconds, one line per
    model (mean over its seeds, epoch by epoch), one panel per dataset and protocol. Returns the rows drawn;
    runs recorded before curves were kept (no ``valid_curve``) are left out."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    curves: dict[tuple[str, str], list[list[list[float]]]] = {}
    valid_metrics: dict[str, str] = {}
    for run in runs:
        if run.get("valid_curve"):
            curves.setdefault((run_section(run), run["row"]), []).append(run["valid_curve"])
            valid_metrics[run_section(run)] = PROTOCOLS[run.get("protocol", "leave_one_out")].valid_metric
    if not curves:
        return []
    datasets = sorted({dataset for dataset, _ in curves})
    # one colour per row in every panel, so a reader can follow a model from panel to panel
    palette = [*plt.get_cmap("tab10").colors, "black"]  # 11 rows, 11 distinct colours
    colours = {row: palette[index % len(palette)] for index, row in enumerate(MODELS)}
    figure, axes = plt.subplots(1, len(datasets), figsize=(7 * len(datasets), 4.5), squeeze=False)
    for index, dataset in enumerate(datasets):
        axis = axes[0][index]
        for row in MODELS:
            per_seed = curves.get((dataset, row))
            if not per_seed:
                continue
            epochs = min(len(curve) for curve in per_seed)  # early stopping may end seeds apart
            seconds = [statistics.mean(curve[e][0] for curve in per_seed) for e in range(epochs)]
            scores = [statistics.mean(curve[e][1] for curve in per_seed) for e in range(epochs)]
            axis.plot(seconds, scores, marker="o", markersize=3, label=row, color=colours[row])
        axis.set_xscale("log")
        axis.set_xlabel("cumulative training seconds (log scale)")
        axis.set_ylabel(f"validation {valid_metrics[dataset]}")
        axis.set_title(f"{dataset}: time to quality (mean over seeds)")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return sorted({row for _, row in curves})
