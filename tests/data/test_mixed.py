"""recbole_mind.data.mixed: accounts merging several users' histories, interleaved by time."""

import os

from recbole_mind.data.mixed import main as mixed_main
from recbole_mind.data.mixed import mix_accounts

HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float"


def toy_source(tmp_path, users=4, name="toy", header=HEADER):
    """``users`` users ``u0`` ... with 3 interactions each at times 10 * user + 5 * step (u0: 0, 5, 10;
    u1: 10, 15, 20; ...), each row's rating its user's number; an .item file of every item (RecBole drops
    the interactions of items it lacks) and a .user file. Their bytes."""
    source = tmp_path / "data" / name
    source.mkdir(parents=True)
    rows = [f"u{user}\ti{user}{step}\t{user}\t{10 * user + 5 * step}" for user in range(users) for step in range(3)]
    (source / f"{name}.inter").write_text(header + "\n" + "\n".join(rows) + "\n")
    items = "".join(f"i{user}{step}\tc{step}\n" for user in range(users) for step in range(3))
    (source / f"{name}.item").write_text("item_id:token\tclass:token\n" + items)
    (source / f"{name}.user").write_text("user_id:token\tage:float\nu0\t30\n")
    return source, {path.name: path.read_bytes() for path in source.iterdir()}


def read_output(out, name):
    """(header, rows as cell lists, {account: [(user, member)]}) of a written mixed dataset."""
    header, *rows = (out / name / f"{name}.inter").read_text().splitlines()
    members_header, *members = (out / name / f"{name}.members").read_text().splitlines()
    assert members_header == "account\tuser_id\tmember"
    groups = {}
    for line in members:
        account, user, member = line.split("\t")
        groups.setdefault(account, []).append((user, int(member)))
    return header, [row.split("\t") for row in rows], groups


def test_each_account_interleaves_its_members_by_time_and_each_keeps_its_order(tmp_path):
    source = tmp_path / "data" / "toy"
    source.mkdir(parents=True)
    # a: times 1, 3, 3, 7 in file order 3, 1, 3, 7 (file order is not time order); b: 2, 3, 8
    rows = ["a\tx3\t0\t3", "a\tx1\t0\t1", "a\ty3\t0\t3", "a\tx7\t0\t7", "b\tz2\t0\t2", "b\tz3\t0\t3", "b\tz8\t0\t8"]
    (source / "toy.inter").write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    summary = mix_accounts(str(source), str(tmp_path / "out"), "mix", group_size=2, seed=0)
    header, written, groups = read_output(tmp_path / "out", "mix")
    assert header == HEADER and (summary.accounts, summary.users, summary.interactions) == (1, 2, 7)
    ((account, members),) = groups.items()
    assert account == "m1" and sorted(user for user, _ in members) == ["a", "b"]
    assert [member for _, member in members] == [1, 2]
    first = members[0][0]
    items = [cells[1] for cells in written]
    assert all(cells[0] == "m1" for cells in written)
    assert [float(cells[3]) for cells in written] == [1, 2, 3, 3, 3, 7, 8]
    at_three = ["x3", "y3", "z3"] if first == "a" else ["z3", "x3", "y3"]  # tie: first member, then file order
    assert items == ["x1", "z2", *at_three, "x7", "z8"]
    assert not (tmp_path / "out" / "mix" / "mix.user").exists()


def test_the_members_file_maps_every_account_to_its_members_and_rows_keep_their_columns(tmp_path):
    source, _ = toy_source(tmp_path, users=6)
    assert mixed_main([str(source), str(tmp_path / "out"), "--name", "mix", "--group_size", "3"]) == 0
    header, written, groups = read_output(tmp_path / "out", "mix")
    assert sorted(groups) == ["m1", "m2"] and all(len(members) == 3 for members in groups.values())
    assert sorted(user for members in groups.values() for user, _ in members) == [f"u{n}" for n in range(6)]
    for account, members in groups.items():  # every member's rows, with their own columns, are in its account
        users = {user[1:] for user, _ in members}
        rows = [cells for cells in written if cells[0] == account]
        assert len(rows) == 9 and {cells[2] for cells in rows} == users
        assert all(cells[1][1] == cells[2] for cells in rows)  # item and rating of the same source row
    assert (tmp_path / "out" / "mix" / "mix.item").read_bytes() == (source / "toy.item").read_bytes()
    assert sorted(os.listdir(tmp_path / "out" / "mix")) == ["mix.inter", "mix.item", "mix.members"]


def test_same_seed_same_output_other_seed_other_groups(tmp_path):
    source, _ = toy_source(tmp_path, users=10)
    out = tmp_path / "out"

    def run(name, *extra):
        assert mixed_main([str(source), str(out), "--name", name, *extra]) == 0
        return {path.name[len(name):]: path.read_bytes() for path in (out / name).iterdir()}

    first = run("a")
    assert first == run("b") == run("c", "--seed", "2020")
    assert run("d", "--seed", "1")[".members"] != first[".members"]
    assert {frozenset(u for u, _ in m) for m in read_output(out, "d")[2].values()} != \
           {frozenset(u for u, _ in m) for m in read_output(out, "a")[2].values()}


def test_the_last_incomplete_group_is_dropped_and_reported(tmp_path, capsys):
    source, _ = toy_source(tmp_path, users=5)
    assert mixed_main([str(source), str(tmp_path / "out"), "--name", "mix"]) == 0
    printed = capsys.readouterr().out
    _, written, groups = read_output(tmp_path / "out", "mix")
    kept = {user for members in groups.values() for user, _ in members}
    (dropped,) = {f"u{n}" for n in range(5)} - kept
    assert len(groups) == 2 and len(written) == 12
    assert "2 accounts of 2 users each (4 users), 12 interactions" in printed
    assert f"dropped 1 user(s) left over after the last whole group of 2, with their 3 interactions: {dropped}" in printed
    assert "no .user file: a mixed account has no single profile" in printed


def test_account_names_never_reuse_a_source_user_s_id(tmp_path):
    source = tmp_path / "data" / "toy"
    source.mkdir(parents=True)
    (source / "toy.inter").write_text(HEADER + "\nm1\ti1\t1\t1\nm2\ti2\t1\t2\n")
    mix_accounts(str(source), str(tmp_path / "out"), "mix")
    assert list(read_output(tmp_path / "out", "mix")[2]) == ["mm1"]


def test_refusals_name_the_problem_and_write_nothing(tmp_path, capsys):
    source, before = toy_source(tmp_path, users=4)
    out = tmp_path / "out"
    untimed, _ = toy_source(tmp_path, name="untimed", header="user_id:token\titem_id:token\trating:float\twhen:float")
    cases = [
        ([str(source), str(out), "--name", "x", "--group_size", "1"],
         "error: --group_size must be 2 or more (a group of one user is that user's own account), got 1\n"),
        ([str(source), str(out), "--name", "x", "--group_size", "5"],
         f"error: --group_size 5 is more than the 4 users of {source / 'toy.inter'}: not one group could be filled\n"),
        ([str(untimed), str(out), "--name", "x"],
         f"error: {untimed / 'untimed.inter'}: mixing accounts (their histories are interleaved by time) needs a "
         "timestamp column (the header has ['user_id', 'item_id', 'rating', 'when'])\n"),
        ([str(source), str(tmp_path / "data"), "--name", "toy", "--overwrite"],
         f"error: --name toy: {tmp_path / 'data' / 'toy'} is an input of this command and would be overwritten by "
         "its own output; write to another path\n"),
    ]
    odd, _ = toy_source(tmp_path, name="odd")
    with open(odd / "odd.inter", "a") as file:
        file.write("u9\ti00\t1\tyesterday\n")
    cases.append(([str(odd), str(out), "--name", "x"],
                  f"error: {odd / 'odd.inter'}: the timestamp of this row is not a number: 'u9\\ti00\\t1\\tyesterday'\n"))
    for args, message in cases:
        assert mixed_main(args) == 2
        assert capsys.readouterr().err == message
    assert not out.exists()
    assert {path.name: path.read_bytes() for path in source.iterdir()} == before
    assert mixed_main([str(source), str(out), "--name", "mix"]) == 0
    written = {path.name: path.read_bytes() for path in (out / "mix").iterdir()}
    capsys.readouterr()
    assert mixed_main([str(source), str(out), "--name", "mix", "--seed", "1"]) == 2
    assert capsys.readouterr().err == (
        f"error: --name mix: {out / 'mix'} already exists and holds mix.inter, mix.item, mix.members: pass "
        "--overwrite to replace it, or choose another --name\n"
    )
    assert {path.name: path.read_bytes() for path in (out / "mix").iterdir()} == written
    (out / "mix" / "mix.user").write_text("user_id:token\nu0\n")  # an earlier dataset's profiles
    assert mixed_main([str(source), str(out), "--name", "mix", "--seed", "1", "--overwrite"]) == 0
    assert sorted(os.listdir(out / "mix")) == ["mix.inter", "mix.item", "mix.members"]


def test_a_mixed_dataset_loads_through_our_pipeline(tmp_path, monkeypatch):
    from recbole_mind.training.config import build_config
    from recbole_mind.training.pipeline import prepare

    source, _ = toy_source(tmp_path, users=8)
    mix_accounts(str(source), str(tmp_path / "out"), "mix")
    monkeypatch.chdir(tmp_path)
    config = build_config("MIND", "mix", config_dict={"data_path": str(tmp_path / "out"), "state": "ERROR"})
    dataset = prepare(config, build_model=False).dataset
    assert sorted(dataset.field2id_token["user_id"]) == ["[PAD]", "m1", "m2", "m3", "m4"]
    assert dataset.item_num == 24 + 1 and {"rating", "timestamp"} <= set(dataset.inter_feat.columns)


def test_ml100k_end_to_end(tmp_path, capsys):
    assert mixed_main(["ml-100k", str(tmp_path), "--name", "ml-100k-mixed"]) == 0
    printed = capsys.readouterr().out
    assert "471 accounts of 2 users each (942 users)" in printed and "dropped 1 user(s)" in printed
    _, _, groups = read_output(tmp_path, "ml-100k-mixed")
    assert len(groups) == 471 and len({user for members in groups.values() for user, _ in members}) == 942
