"""Golden values of paper MIND and the recommended preset: the loss before and after one SGD
step and ``full_sort_predict`` of a few users must not move when code the paper and the preset do
not use is removed or rearranged.

First recorded before issue 39 removed the levers that never won, with one Adam step. Adam's
first step moves every coordinate by about the learning rate whatever its gradient's size, so a
gradient coordinate that cancels to float noise (7.6e-10 for an item of the preset's batch) took
a step whose size depended on the CPU's summation order: on an AVX512 machine two items' scores
moved by 4e-4 with the same code. The step is plain SGD since, which scales noise instead of
amplifying it; the values were re-recorded at the commit that made the switch, and the code of
the commit before it (which still matched the Adam values on their machine) gives the same.

Re-record (only when a change is meant to move them, and say why in the commit):
    python tests/test_golden.py --record
"""

import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import REPO_ROOT, build_mind, preset_keys  # noqa: E402

GOLDEN_FILE = os.path.join(REPO_ROOT, "tests", "golden", "mind_golden.pt")
USERS = 4  # full_sort_predict rows kept (the first users of the first training batch)

# name -> (fixture, keys over MIND.yaml's defaults). The fixtures hold 20-item histories, as
# the preset does; paper MIND's own default window (5) changes the data, not the model code.
CASES = {
    "paper_ce": ("ml100k_data", {}),
    "paper_ssm_k4": ("ml100k_data", {"loss_type": "SSM", "interest_num": 4, "attention_power": 2.0}),
    "paper_features": ("ml100k_feature_data", {}),
    "preset": ("ml100k_data", {key: value for key, value in preset_keys().items()
                               if key != "MAX_ITEM_LIST_LENGTH"}),
}


def golden_values(data, overrides: dict) -> dict:
    """Loss before and after one SGD step on the first training batch, and the eval scores,
    on one thread: with two, the same code differs by up to 3e-6 from run to run (float sums
    split between threads)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _golden_values(data, overrides)
    finally:
        torch.set_num_threads(threads)


def _golden_values(data, overrides: dict) -> dict:
    # The session's loaders are shared: each pass advances the train loader's shuffle generator,
    # so rewind it to take the batch a fresh loader gives first, whatever ran before.
    data[2].generator.manual_seed(data[0]["seed"])
    batch = next(iter(data[2]))
    model = build_mind(data, **overrides)  # seeds torch with 0
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.manual_seed(1)
    loss = model.train().calculate_loss(batch)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    torch.manual_seed(2)
    loss_after = model.calculate_loss(batch)
    with torch.no_grad():
        scores = model.eval().full_sort_predict(batch[:USERS])
    return {"loss": loss.detach(), "loss_after_step": loss_after.detach(), "scores": scores}


@pytest.mark.parametrize("case", sorted(CASES))
def test_paper_mind_and_preset_match_their_golden_values(case, request):
    fixture, overrides = CASES[case]
    expected = torch.load(GOLDEN_FILE)[case]
    actual = golden_values(request.getfixturevalue(fixture), overrides)
    for name, value in expected.items():
        # Bit for bit on the machine that recorded them; another CPU may take other float
        # kernels (their sums in another order), hence the 1e-6.
        torch.testing.assert_close(actual[name], value, rtol=1e-6, atol=1e-6, msg=f"{case}: {name}")


def record() -> None:
    import tempfile

    from conftest import FAST_CONFIG, FEATURE_CONFIG, prepared_ml100k

    with tempfile.TemporaryDirectory() as work_dir:
        data = {
            "ml100k_data": prepared_ml100k(work_dir, FAST_CONFIG),
            "ml100k_feature_data": prepared_ml100k(work_dir, FEATURE_CONFIG),
        }
        golden = {case: golden_values(data[fixture], overrides) for case, (fixture, overrides) in CASES.items()}
    os.makedirs(os.path.dirname(GOLDEN_FILE), exist_ok=True)
    torch.save(golden, GOLDEN_FILE)
    for case, values in golden.items():
        print(case, float(values["loss"]), float(values["loss_after_step"]), tuple(values["scores"].shape))


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit(__doc__)
    record()
