import json
import os
import tempfile

import numpy as np
import pytest
import torch

from recbole_mind.model.layers import dynamic_interest_num
from recbole_mind.serving.export import export_vectors, load_vectors, retrieve_for_users
from recbole_mind.serving.users import latest_histories, user_ids_of

from conftest import full_sort_scores


def test_exported_vectors_reload_and_reproduce_the_models_scores(in_trained_dir, tmp_path):
    checkpoint, _, _, model, dataset = in_trained_dir
    export_vectors(checkpoint, str(tmp_path))
    vectors = load_vectors(str(tmp_path))
    users = np.unique(vectors["user_tokens"])
    assert len(users) == dataset.user_num - 1
    assert list(vectors["item_tokens"]) == list(dataset.id2token(dataset.iid_field, np.arange(1, dataset.item_num)))
    expected, histories = full_sort_scores(model, dataset, user_ids_of(dataset, users[:50]))
    for row, user in enumerate(users[:50]):
        mine = vectors["user_tokens"] == user
        active = int(dynamic_interest_num(histories.item_seq_len[row : row + 1], 4))
        assert mine.sum() == active  # inactive capsules are not exported
        assert sorted(vectors["interest_index"][mine]) == list(range(active))
        scores = (vectors["item_vectors"] @ vectors["interest_vectors"][mine].T).max(axis=1)
        np.testing.assert_allclose(scores, expected[row], rtol=1e-4, atol=1e-5)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["interest_rows"] == len(vectors["user_tokens"])


def test_retrieve_for_users_drops_seen_items_and_still_returns_n(in_trained_dir):
    checkpoint, _, _, model, dataset = in_trained_dir
    users = [str(token) for token in dataset.id2token(dataset.uid_field, [1, 2, 3])]
    found = retrieve_for_users(checkpoint, users, n=15, exclude_seen=True)
    histories = latest_histories(dataset, np.array([1, 2, 3]), model.max_seq_length)
    for user, seen in zip(users, histories.seen):
        seen_tokens = set(dataset.id2token(dataset.iid_field, seen))
        assert len(found[user]) == 15 and len({item for item, _ in found[user]}) == 15
        assert not seen_tokens & {item for item, _ in found[user]}
        assert [score for _, score in found[user]] == sorted((score for _, score in found[user]), reverse=True)


def test_bad_requests_fail_with_clear_messages(in_trained_dir, tmp_path):
    checkpoint, *_ = in_trained_dir
    with pytest.raises(ValueError, match=r"Unknown user token\(s\) \['no-such-user'\]"):
        retrieve_for_users(checkpoint, ["no-such-user"], n=5)
    with pytest.raises(ValueError, match="n .* must be an integer >= 1, got 0"):
        retrieve_for_users(checkpoint, None, n=0)
    other = tmp_path / "SASRec.pth"
    torch.save({"config": {"model": "SASRec"}, "state_dict": {}}, other)
    with pytest.raises(ValueError, match="holds a SASRec model.*need a MIND checkpoint"):
        export_vectors(str(other), str(tmp_path / "out"))


def bad_out_path(kind, tmp_path):
    if kind == "a file":
        (tmp_path / "taken").write_text("x")
        return str(tmp_path / "taken"), "is a file, not a folder"
    if kind == "under a file":
        (tmp_path / "taken").write_text("x")
        return str(tmp_path / "taken" / "vectors"), f"{tmp_path / 'taken'} is a file, so no folder can be made under it"
    try:  # /sys is read-only even to root in most containers
        descriptor, probe = tempfile.mkstemp(dir="/sys")
    except OSError:
        return "/sys/recbole-mind-vectors", "cannot write in /sys"
    os.close(descriptor)
    os.remove(probe)
    pytest.skip("/sys is writable here")


@pytest.mark.parametrize("kind", ["a file", "under a file", "unwritable"])
def test_export_refuses_an_unusable_out_path_before_loading_anything(tmp_path, capsys, kind):
    from recbole_mind.serving.cli import main

    out, message = bad_out_path(kind, tmp_path)
    # the checkpoint does not exist: the path is checked first
    assert main(["export", str(tmp_path / "missing.pth"), "--out", out]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: --out {out}") and message in error and error.count("\n") == 1


def test_export_keeps_an_earlier_export_unless_overwrite_and_writes_all_or_nothing(in_trained_dir, tmp_path,
                                                                                  monkeypatch):
    checkpoint, _, _, _, dataset = in_trained_dir
    first, second = (str(token) for token in dataset.id2token(dataset.uid_field, [1, 2]))
    export_vectors(checkpoint, str(tmp_path), [first])
    with pytest.raises(ValueError, match=r"holds an earlier export \(items.npz, interests.npz, meta.json\): pass "
                                         r"--overwrite"):
        export_vectors(checkpoint, str(tmp_path), [second])

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(json, "dump", disk_full)  # the last of the three files fails
    with pytest.raises(OSError, match="No space left"):
        export_vectors(checkpoint, str(tmp_path), [second], overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["interests.npz", "items.npz", "meta.json"]  # no partial files
    assert set(load_vectors(str(tmp_path))["user_tokens"]) == {first}  # the earlier export, whole
    monkeypatch.undo()
    export_vectors(checkpoint, str(tmp_path), [second], overwrite=True)
    assert set(load_vectors(str(tmp_path))["user_tokens"]) == {second}


def test_a_link_at_the_old_temporary_name_is_not_written_through(in_trained_dir, tmp_path):
    checkpoint, _, _, _, dataset = in_trained_dir
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    out = tmp_path / "vectors"
    out.mkdir()
    planted = [f"{name}.part" for name in ("items.npz", "interests.npz", "meta.json")]
    for name in planted:
        os.symlink(victim, out / name)
    export_vectors(checkpoint, str(out), [str(dataset.id2token(dataset.uid_field, 1))])
    assert victim.read_bytes() == b"keep me"
    assert sorted(os.listdir(out)) == sorted(["items.npz", "interests.npz", "meta.json", *planted])
