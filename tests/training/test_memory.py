"""A run too large for the memory is refused with the estimate, before anything is allocated."""

import pytest

from recbole_mind.training.config import build_config
from recbole_mind.training.pipeline import prepare

from conftest import SLICE_CONFIG


@pytest.mark.parametrize(
    "key, value, part",
    [("embedding_size", 200000, "model and optimizer"), ("MAX_ITEM_LIST_LENGTH", 200000, "histories")],
)
def test_a_run_larger_than_the_memory_is_refused_with_its_estimate(in_tmp_dir, monkeypatch, key, value, part):
    import recbole_mind.training.memory as memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 8 * memory.GIB)
    config = build_config("MIND", "ml-100k", config_dict={**SLICE_CONFIG, key: value})
    with pytest.raises(ValueError) as error:
        prepare(config)  # without the check: an allocator traceback, or the OOM killer
    message = str(error.value)
    assert message.startswith("this run needs about ") and "8.0 GiB are available" in message
    assert f"lower {key} (now {value})" in message
    needed = float(message.split("about ")[1].split(" GiB")[0])
    size = float(message.split(f"{part} ")[1].split(" GiB")[0])
    assert needed > 8 and size > 8


def test_the_estimate_counts_the_models_parameters_without_building_it(ml100k_data):
    from conftest import build_mind
    from recbole_mind.training.memory import parameter_count

    model = build_mind(ml100k_data)
    assert parameter_count(ml100k_data[0], ml100k_data[2]._dataset) == sum(p.numel() for p in model.parameters())
