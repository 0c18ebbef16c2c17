"""recbole_mind.data.subsample: seeded user sub-samples with whole histories."""

import os

from recbole_mind.data.subsample import main as subsample_main


def test_subsample_keeps_whole_histories_of_a_seeded_subset_of_users(tmp_path):
    source = tmp_path / "toy"
    source.mkdir()
    rows = [f"u{user}\ti{item}\t{item}" for user in range(10) for item in range(user + 1)]  # u_k: k+1 rows
    (source / "toy.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\n" + "\n".join(rows) + "\n")
    (source / "toy.item").write_text("item_id:token\tclass:token\ni0\ta\n")

    def users(name):
        lines = (tmp_path / "out" / name / f"{name}.inter").read_text().splitlines()
        counts = {}
        for line in lines[1:]:
            counts[line.split("\t")[0]] = counts.get(line.split("\t")[0], 0) + 1
        return lines[0], counts

    assert subsample_main([str(source), str(tmp_path / "out"), "--name", "long", "--min_interactions", "8"]) == 0
    header, counts = users("long")
    assert header.startswith("user_id:token") and counts == {"u7": 8, "u8": 9, "u9": 10}
    assert (tmp_path / "out" / "long" / "long.item").read_text() == (source / "toy.item").read_text()
    args = [str(source), str(tmp_path / "out"), "--name", "half", "--users_fraction", "0.5"]
    assert subsample_main(args) == 0
    _, half = users("half")
    assert len(half) == 5 and all(half[user] == int(user[1:]) + 1 for user in half)
    assert subsample_main([*args, "--overwrite"]) == 0 and users("half")[1] == half  # seeded
    assert subsample_main([*args[:4], "--users_fraction", "0.5", "--seed", "1", "--overwrite"]) == 0
    assert users("half")[1] != half
    assert subsample_main([str(source), str(tmp_path / "out"), "--name", "x", "--min_interactions", "11"]) == 2
    assert subsample_main([str(tmp_path / "nowhere"), str(tmp_path / "out"), "--name", "x"]) == 2


def test_subsample_of_the_bundled_ml100k_and_clear_errors(tmp_path, capsys):
    assert subsample_main(["ml-100k", str(tmp_path), "--name", "long", "--min_interactions", "100"]) == 0
    assert "364 users, 74522 interactions; run: python run_recbole_mind.py --dataset=long" in capsys.readouterr().out
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "bad.inter").write_text("uid:token\titem_id:token\nu1\ti1\n")
    assert subsample_main([str(bad), str(tmp_path), "--name", "x"]) == 2
    assert "the header has no user_id column" in capsys.readouterr().err
    assert subsample_main([str(bad), str(tmp_path), "--name", "x", "--users_fraction", "0"]) == 2
    assert "users_fraction must be in (0, 1], got 0.0" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_drop_latest_removes_every_interaction_at_each_user_s_latest_timestamp(tmp_path, capsys):
    source = tmp_path / "toy"
    source.mkdir()
    # u1: times 1, 2, 3, 3 (two tied latest); u2: 5, 9; u3: a single interaction
    rows = ["u1\ti1\t1", "u1\ti2\t2", "u1\ti3\t3", "u1\ti4\t3", "u2\ti1\t9", "u2\ti2\t5", "u3\ti5\t4"]
    (source / "toy.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\n" + "\n".join(rows) + "\n")
    assert subsample_main([str(source), str(tmp_path / "out"), "--name", "past", "--drop_latest"]) == 0
    lines = (tmp_path / "out" / "past" / "past.inter").read_text().splitlines()
    assert lines[1:] == ["u1\ti1\t1", "u1\ti2\t2", "u2\ti2\t5"]
    untimed = tmp_path / "untimed"
    untimed.mkdir()
    (untimed / "untimed.inter").write_text("user_id:token\titem_id:token\nu1\ti1\n")
    capsys.readouterr()
    assert subsample_main([str(untimed), str(tmp_path / "out"), "--name", "x", "--drop_latest"]) == 2
    assert "--drop_latest needs a timestamp column" in capsys.readouterr().err
    (untimed / "untimed.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\nu1\ti1\tyesterday\n")
    assert subsample_main([str(untimed), str(tmp_path / "out"), "--name", "x", "--drop_latest"]) == 2
    error = capsys.readouterr().err
    assert "untimed.inter: --drop_latest: the timestamp of this row is not a number" in error and "yesterday" in error


def test_subsample_names_a_source_file_that_is_not_text_or_is_empty(tmp_path, capsys):
    source = tmp_path / "odd"
    source.mkdir()
    (source / "odd.inter").write_bytes(b"\x00\xbb\xff binary")
    assert subsample_main([str(source), str(tmp_path / "out"), "--name", "x"]) == 2
    assert "odd.inter is not a text file of interactions" in capsys.readouterr().err
    (source / "odd.inter").write_text("")
    assert subsample_main([str(source), str(tmp_path / "out"), "--name", "x"]) == 2
    assert "odd.inter is empty" in capsys.readouterr().err


def test_subsample_name_must_be_plain(tmp_path, capsys):
    # "--name ../x" would write x/x.inter next to out_dir, outside it
    out = tmp_path / "out"
    for name in ("../x", "a/b", "..", ""):
        assert subsample_main(["ml-100k", str(out), "--name", name]) == 2
        expected = f"name must be a plain dataset name without a path (it names <out_dir>/<name>/<name>.inter), got {name!r}"
        assert expected in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not out.exists()


def toy_source(tmp_path):
    """``tmp_path/data/toy`` with a ``.inter`` of 10 users and an ``.item`` file; their bytes."""
    source = tmp_path / "data" / "toy"
    source.mkdir(parents=True)
    rows = [f"u{user}\ti{item}\t{item}" for user in range(10) for item in range(3)]
    (source / "toy.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\n" + "\n".join(rows) + "\n")
    (source / "toy.item").write_text("item_id:token\tclass:token\ni0\ta\n")
    return source, {path.name: path.read_bytes() for path in source.iterdir()}


def test_a_sub_sample_onto_its_source_is_refused_and_the_source_left_whole(tmp_path, monkeypatch, capsys):
    source, before = toy_source(tmp_path)
    os.symlink(tmp_path / "data", tmp_path / "link")
    os.symlink(source, tmp_path / "data" / "alias")
    monkeypatch.chdir(tmp_path / "data")
    for out_dir, name in [
        (str(tmp_path / "data"), "toy"),  # the same path
        (".", "toy"),  # relative
        (str(source / ".."), "toy"),  # through ..
        (str(tmp_path / "link"), "toy"),  # through a link to the folder above
        (str(tmp_path / "data"), "alias"),  # a name that is a link to the source
    ]:
        args = [str(source), out_dir, "--name", name, "--users_fraction", "0.5"]
        for extra in ([], ["--overwrite"]):
            assert subsample_main([*args, *extra]) == 2
            error = capsys.readouterr().err
            assert error.startswith(f"error: --name {name}: ") and "is an input of this command" in error
            assert error.count("\n") == 1
            assert {path.name: path.read_bytes() for path in source.iterdir()} == before
    assert subsample_main(["toy", ".", "--name", "toy"]) == 2  # the source named relative to the cwd
    assert {path.name: path.read_bytes() for path in source.iterdir()} == before


def test_an_existing_name_is_refused_unless_overwrite(tmp_path, capsys):
    source, _ = toy_source(tmp_path)
    out = tmp_path / "out"
    assert subsample_main([str(source), str(out), "--name", "half", "--users_fraction", "0.5"]) == 0
    written = {path.name: path.read_bytes() for path in (out / "half").iterdir()}
    assert sorted(written) == ["half.inter", "half.item"]
    capsys.readouterr()
    again = [str(source), str(out), "--name", "half", "--users_fraction", "0.5", "--seed", "1"]
    assert subsample_main(again) == 2
    assert capsys.readouterr().err == (
        f"error: --name half: {out / 'half'} already exists and holds half.inter, half.item: pass --overwrite "
        "to replace it, or choose another --name\n"
    )
    assert {path.name: path.read_bytes() for path in (out / "half").iterdir()} == written
    (source / "toy.item").unlink()  # the new source has no .item: the earlier one must not stay behind
    assert subsample_main([*again, "--overwrite"]) == 0
    assert sorted(os.listdir(out / "half")) == ["half.inter"]
    assert (out / "half" / "half.inter").read_bytes() != written["half.inter"]
    (out / "taken").write_text("x")  # a file where the dataset's folder would go
    assert subsample_main([str(source), str(out), "--name", "taken", "--overwrite"]) == 2
    assert capsys.readouterr().err == f"error: --name taken: {out / 'taken'} is a file, not a folder: give a folder path\n"


def test_a_link_at_the_old_temporary_name_is_not_written_through(tmp_path):
    source, _ = toy_source(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    target = tmp_path / "out" / "half"
    target.mkdir(parents=True)
    for name in ("half.inter.part", "half.item.part"):
        os.symlink(victim, target / name)
    assert subsample_main([str(source), str(tmp_path / "out"), "--name", "half", "--overwrite"]) == 0
    assert victim.read_text() == "keep me"
    assert sorted(os.listdir(target)) == ["half.inter", "half.inter.part", "half.item", "half.item.part"]
