"""The RecBole boundary in one place: every RecBole (and numpy, torch, ``sys``) name recbole-mind
replaces, wraps, overrides, shadows or adds, with where, why and the test that covers it.

This is a record, not a mechanism: the code that patches lives where the patch is needed
(``compat``, ``registration``, ``metrics``, ``distributed``, the trainer subclasses, ``build_config``).
``tests/integration/test_boundary.py`` holds the record to the code: it compares :data:`BOUNDARY`
with what ``import recbole_mind`` changes in RecBole's modules and classes, with the RecBole methods
our subclasses override and with the ``Config`` methods shadowed while a config is built.
docs/compatibility.md's table is :func:`markdown_table`'s output
(``python -m recbole_mind.integration.boundary --write docs/compatibility.md`` rewrites it).

All of it rests on RecBole 1.2.1's internals: ``import recbole_mind`` runs
``compat.check_recbole_version()`` before it installs anything, and stops with an ``ImportError``
naming both versions on another release.
"""

from __future__ import annotations

import re
import sys
from typing import NamedTuple

# What an entry does to its names.
WRAPPED = "wrapped"  # RecBole's function replaced by a marked wrapper that calls it
REPLACED = "replaced"  # RecBole's attribute replaced by ours, which does not call RecBole's
ADDED = "added"  # a new name (or table entry, or sys.modules entry) in RecBole's namespace
SUBCLASS = "overridden in subclass"  # a subclass of ours overrides these RecBole methods
SHADOWED = "shadowed per instance"  # set on one instance only, while it is built
SWAPPED = "swapped while RecBole runs"  # put back when the RecBole call that needed it returns
IMPORT_HOOK = "import hook"  # a sys.meta_path finder wraps the import of these RecBole modules
PROCESS_WIDE = "set process-wide"  # set once RecBole's code needed it, and left set
KINDS = (WRAPPED, REPLACED, ADDED, SUBCLASS, SHADOWED, SWAPPED, IMPORT_HOOK, PROCESS_WIDE)


class Entry(NamedTuple):
    names: tuple[str, ...]  # dotted names of what is patched (RecBole's unless stated)
    kind: str
    ours: str  # where in recbole_mind
    reason: str
    test: str  # tests/...py::test_name

    @property
    def places(self) -> list[str]:
        """``ours`` as full dotted names: ``"a.b.f, g"`` is ``recbole_mind.a.b.f`` and ``recbole_mind.a.b.g``."""
        first, *more = self.ours.split(", ")
        module = first.rpartition(".")[0]
        return [f"recbole_mind.{first}"] + [f"recbole_mind.{module}.{name}" for name in more]


_C = "recbole.config.configurator.Config"
_T = "recbole.trainer.trainer.Trainer"
_QS = "recbole.quick_start"
_SAFE_LOAD_TEST = "tests/integration/test_safe_load.py::test_recboles_readers_refuse_a_payload"
_TABLES_TEST = "tests/integration/test_metrics.py::test_the_metrics_are_in_recboles_tables_and_its_trainer_builds_our_collector"
_METRIC_TEST = "tests/integration/test_metrics.py::test_metric_values_by_hand"
_COLLECTOR = "recbole.evaluator.collector.Collector"
_MODEL = "recbole.model.abstract_recommender"
_DISTRIBUTED_TEST = ("tests/integration/test_distributed.py::"
                     "test_two_processes_resume_into_a_new_file_and_test_as_one_process_does")

BOUNDARY: tuple[Entry, ...] = (
    # compat: RecBole 1.2.1 on today's numpy, torch and setuptools
    Entry((f"{_C}.compatibility_settings",), WRAPPED, "integration.compat.restore_numpy_aliases",
          "numpy 2 removed np.float_, np.complex_, np.unicode_, which it reads: restored first",
          "tests/integration/test_boundary.py::test_numpy_aliases_stay_set_once_recbole_needed_them"),
    Entry(("numpy.float_", "numpy.complex_", "numpy.unicode_", "numpy.bool8"), PROCESS_WIDE,
          "integration.compat.restore_numpy_aliases",
          "aliases of float64, complex128, str_, bool_ (numpy 1's), set when Config.compatibility_settings "
          "or the import of recbole.quick_start first runs, and left set: ray's tune loggers read np.bool8 "
          "when imported later, and that RecBole method itself sets np.float, np.int, np.bool, ... for good",
          "tests/integration/test_boundary.py::test_numpy_aliases_stay_set_once_recbole_needed_them"),
    Entry((f"{_C}._init_device",), WRAPPED, "integration.compat._init_device_on_cpu",
          "distributed runs without CUDA: a gloo process group and the CPU instead of NCCL and a CUDA device per process",
          "tests/test_reliability.py::test_distributed_training_on_cpu_with_two_processes"),
    Entry(("recbole.trainer.trainer.AbstractTrainer.__init__",), WRAPPED, "integration.compat._trainer_init_on_cpu",
          "on CPU under a process group it re-implements RecBole's body (config, model, DDP) without "
          "device_ids, which a CPU module refuses; otherwise RecBole's own",
          "tests/test_reliability.py::test_distributed_training_on_cpu_with_two_processes"),
    Entry((f"{_T}.evaluate", f"{_T}.resume_checkpoint", f"{_QS}.quick_start.load_data_and_model",
           f"{_QS}.load_data_and_model"), WRAPPED, "integration.compat._with_safe_torch_load",
          "torch >= 2.6 loads weights only and cannot read RecBole's checkpoints: these readers load "
          "through safe_load's allowlist unpickler (the last name is the package's re-export)",
          _SAFE_LOAD_TEST),
    Entry(("torch.load",), SWAPPED, "integration.compat.safe_torch_load",
          "is integration.safe_load.safe_torch_load while the three checkpoint readers above run",
          "tests/integration/test_compat.py::test_safe_torch_load_is_in_force_only_inside_and_restores_torch_load"),
    Entry(("recbole.data.dataset.dataset.Dataset._download",), REPLACED, "integration.compat._download_without_barrier",
          "RecBole's ends in a barrier that fails without a process group, reads input() for large archives "
          "and leaves half-filled folders: data.datasets.fetch_dataset downloads instead",
          "tests/data/test_download.py::test_recbole_own_create_dataset_downloads_without_a_process_group"),
    Entry((_QS, "recbole.model.sequential_recommender.sine"), IMPORT_HOOK,
          "integration.compat._RecBoleImportFinder, _QuickStartLoader, _AnomalyModeKeepingLoader",
          "recbole.quick_start imports ray, which needs pkg_resources, and then gets the safe reader; "
          "sine.py switches anomaly mode on at import, which is put back as it was",
          "tests/integration/test_compat.py::test_recbole_sine_import_leaves_anomaly_mode_as_the_user_set_it"),
    Entry(("sys.modules['pkg_resources']",), SWAPPED, "integration.compat._pkg_resources_stand_in, _QuickStartLoader",
          "a stand-in for ray's imports while recbole.quick_start is imported, only if no real one exists",
          "tests/integration/test_compat.py::test_recbole_quick_start_imports_and_leaves_no_pkg_resources_behind"),
    # distributed evaluation: each user on one process, the processes weighted by their users
    Entry(("recbole.data.dataloader.abstract_dataloader.AbstractDataLoader.__init__",), WRAPPED,
          "integration.distributed.evaluation_loader_unpadded",
          "torch's DistributedSampler pads each process's share, so users count twice: evaluation "
          "loaders under a group take UnpaddedDistributedSampler",
          "tests/integration/test_distributed.py::test_test_users_are_each_evaluated_by_exactly_one_of_two_processes"),
    Entry(("torch.utils.data.distributed.DistributedSampler",), SWAPPED,
          "integration.distributed._distributed_sampler",
          "is UnpaddedDistributedSampler while RecBole's evaluation loader under a group is built",
          "tests/integration/test_distributed.py::test_test_users_are_each_evaluated_by_exactly_one_of_two_processes"),
    Entry(("recbole.evaluator.evaluator.Evaluator.evaluate", f"{_T}._map_reduce"), WRAPPED,
          "integration.distributed.evaluate_unrounded_under_a_group, map_reduce_by_users",
          "RecBole averages rounded means weighted by batch tuple lengths: unrounded, weighted by users",
          _DISTRIBUTED_TEST),
    # registration: RecBole's own lookups find MIND
    Entry(("sys.modules['recbole.model.sequential_recommender.mind']",), ADDED,
          "integration.registration._register_model_modules",
          "get_model, run_recbole, load_data_and_model and run_hyper.py find MIND by name",
          "tests/integration/test_registration.py::test_get_model_and_get_trainer_find_mind"),
    Entry(("recbole.trainer.MINDTrainer",), ADDED, "integration.registration.register",
          "get_trainer finds MIND's trainer (lazy Adam for a sparse item table)",
          "tests/integration/test_registration.py::test_get_model_and_get_trainer_find_mind"),
    Entry((f"{_C}._load_internal_config_dict",), WRAPPED, "integration.registration._load_plugin_defaults",
          "RecBole reads model defaults from its own folder only: the settings table's defaults "
          "(settings.table.defaults_for) are added at the same priority",
          "tests/integration/test_registration.py::test_recbole_config_reads_the_settings_tables_defaults_under_user_values"),
    Entry(("recbole.evaluator.register.metrics_dict", "recbole.evaluator.register.metric_information",
           "recbole.evaluator.register.metric_types"), ADDED, "integration.metrics.register_metrics",
          "the Diversity and CategoryCoverage metrics, by name in metrics:",
          _TABLES_TEST),
    Entry(("recbole.trainer.trainer.Collector",), REPLACED, "integration.metrics.register_metrics",
          "the trainer builds CategoryCollector (RecBole's Collector subclassed), which also collects "
          "item categories for those metrics",
          _TABLES_TEST),
    # subclasses
    Entry((f"{_COLLECTOR}.data_collect", f"{_COLLECTOR}.eval_batch_collect", f"{_COLLECTOR}.get_data_struct"), SUBCLASS,
          "integration.metrics.CategoryCollector", "each calls RecBole's, then collects the categories",
          "tests/integration/test_metrics.py::test_the_collector_gathers_each_users_target_categories"),
    Entry(("recbole.evaluator.base_metric.AbstractMetric.__init__",), SUBCLASS, "integration.metrics._CategoryMetric",
          "RecBole's metric API: reads topk and the category field", _METRIC_TEST),
    Entry(("recbole.evaluator.base_metric.AbstractMetric.calculate_metric",), SUBCLASS,
          "integration.metrics.Diversity, CategoryCoverage", "RecBole's metric API", _METRIC_TEST),
    Entry((f"{_MODEL}.SequentialRecommender.__init__", f"{_MODEL}.AbstractRecommender.calculate_loss",
           f"{_MODEL}.AbstractRecommender.predict", f"{_MODEL}.AbstractRecommender.full_sort_predict"), SUBCLASS,
          "model.mind.MIND", "RecBole's model API",
          "tests/run/test_quick_start.py::test_mind_trains_one_epoch_above_random_floor"),
    Entry((f"{_T}._build_optimizer",), SUBCLASS, "model.trainer.MINDTrainer",
          "SparseAdam for a sparse item table, Adam for the rest; otherwise RecBole's",
          "tests/model/test_trainer.py::test_sparse_item_table_updates_only_the_rows_a_batch_touched"),
    Entry((f"{_T}.evaluate", f"{_T}._full_sort_batch_eval"), SUBCLASS, "diversity.evaluation.DiverseFullSort",
          "mixed into the run's trainer: full-sort evaluation re-ranks by diversity_lambda and gives the "
          "metrics the item categories",
          "tests/diversity/test_diversity_evaluation.py::test_leave_one_out_run_with_diversity"),
    Entry((f"{_T}.__init__", f"{_T}._train_epoch", f"{_T}.fit", f"{_T}._save_checkpoint", f"{_T}.resume_checkpoint"),
          SUBCLASS, "training.pipeline.EpochTimedTrainer",
          "built at run time around get_trainer's class (pipeline._epoch_timed): epoch times, the "
          "validation curve, a checkpoint name no file has, a resumed run saving to a new file, "
          "Ctrl-C naming the checkpoint",
          "tests/run/test_cli.py::test_ctrl_c_during_training_says_where_the_checkpoint_is_and_how_to_resume"),
    # process-wide settings for RecBole's code
    Entry(("warnings.filters",), PROCESS_WIDE, "settings.prerun.silence_third_party_deprecations",
          "two FutureWarnings RecBole's own code raises on every run (torch's GradScaler, pandas' chained "
          "assignment) are ignored when raised from recbole.* modules only; added before a run's data "
          "loads, and left (the same warnings from other code still show)",
          "tests/settings/test_keys.py::test_third_party_deprecations_are_silenced_only_where_recbole_triggers_them"),
    Entry(("os.environ['HYPEROPT_FMIN_SEED']",), PROCESS_WIDE, "run.tuning.tune",
          "RecBole's HyperTuning runs hyperopt, which seeds its search from this variable: set to the "
          "search's seed so that the same seed gives the same trials, and left set",
          "tests/run/test_tuning.py::test_search_is_reproducible_with_its_seed"),
    # training: a config built from our arguments only
    Entry((f"{_C}._load_cmd_line", f"{_C}._convert_config_dict", f"{_C}._build_yaml_loader"), SHADOWED,
          "training.config._config_from_arguments",
          "while Config.__init__ builds one instance: no sys.argv, no eval() of values, YAML as plain "
          "data; afterwards that instance's yaml_loader names yaml.SafeLoader (checkpoints pickle it)",
          "tests/settings/test_arguments.py::test_a_command_line_value_that_is_code_is_refused_and_never_run"),
)


# The two functions ``import recbole_mind`` runs: they install the patches the entries name.
INSTALLERS = ("recbole_mind.integration.compat.install", "recbole_mind.integration.registration.register")


def names_of(*kinds: str) -> set[str]:
    return {name for entry in BOUNDARY if entry.kind in kinds for name in entry.names}


MARKER = "<!-- boundary: python -m recbole_mind.integration.boundary --write docs/compatibility.md -->"
END_MARKER = "<!-- /boundary -->"


def markdown_table() -> str:
    rows = ["| name | kind | ours (`recbole_mind.`) | why | test |", "| --- | --- | --- | --- | --- |"]
    for entry in BOUNDARY:
        names = "<br>".join(f"`{name}`" for name in entry.names)
        rows.append(f"| {names} | {entry.kind} | `{entry.ours}` | {entry.reason} | `{entry.test}` |")
    return "\n".join(rows)


def with_table(text: str) -> str:
    """``text`` with the block between the two markers replaced by :func:`markdown_table`."""
    pattern = re.compile(re.escape(MARKER) + r"\n.*?" + re.escape(END_MARKER), re.S)
    if not pattern.search(text):
        raise ValueError(f"no {MARKER} ... {END_MARKER} block")
    return pattern.sub(lambda _: f"{MARKER}\n{markdown_table()}\n{END_MARKER}", text)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--write"] and len(argv) == 2:
        with open(argv[1], encoding="utf-8") as file:
            text = file.read()
        with open(argv[1], "w", encoding="utf-8") as file:
            file.write(with_table(text))
        return 0
    print(markdown_table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
