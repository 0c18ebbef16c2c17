"""recbole_mind.data.output: temporary files no one can plant a link at, outputs never onto inputs."""

import os
import stat

import pytest

from recbole_mind.data.output import all_or_nothing, refuse_output_onto_input, temporary_beside

VICTIM = "the victim's own bytes\n"


def plant_links(tmp_path, names):
    """A symlink at each of ``names`` (in ``tmp_path``) pointing to one victim file; the victim."""
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM)
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(victim, tmp_path / name)
    return victim


def test_temporary_files_and_folders_get_a_fresh_name_beside_their_target(tmp_path):
    target = tmp_path / "out" / "x.inter"
    target.parent.mkdir()
    first, second = temporary_beside(str(target)), temporary_beside(str(target))
    assert first != second and os.path.dirname(first) == str(target.parent)
    assert os.path.basename(first).startswith(".x.inter.") and first.endswith(".part")
    assert os.path.isfile(first) and not os.path.islink(first) and os.path.getsize(first) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o666 & ~umask  # as open(path, "w") would make it
    folder = temporary_beside(str(tmp_path / "dataset"), folder=True)
    assert os.path.isdir(folder) and os.path.basename(folder).startswith(".dataset.")
    # a long final name still makes a legal temporary name
    assert os.path.isfile(temporary_beside(str(tmp_path / ("n" * 250))))


def test_a_link_at_the_old_temporary_name_is_not_written_through(tmp_path):
    out = tmp_path / "out"
    victim = plant_links(tmp_path, ["out/a.inter.part", "out/b.item.part"])
    with all_or_nothing([str(out / "a.inter"), str(out / "b.item")]) as partial:
        assert not any(os.path.islink(path) for path in partial)
        for path in partial:
            with open(path, "w", encoding="utf-8") as file:
                file.write("new\n")
    assert victim.read_text() == VICTIM
    assert (out / "a.inter").read_text() == "new\n" and (out / "b.item").read_text() == "new\n"
    assert sorted(os.listdir(out)) == ["a.inter", "a.inter.part", "b.item", "b.item.part"]  # no temporary left


def test_a_failed_write_or_rename_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.inter").write_text("earlier\n")
    with pytest.raises(KeyboardInterrupt):
        with all_or_nothing([str(out / "a.inter"), str(out / "b.item")]) as partial:
            with open(partial[0], "w", encoding="utf-8") as file:
                file.write("new\n")
            raise KeyboardInterrupt
    assert os.listdir(out) == ["a.inter"] and (out / "a.inter").read_text() == "earlier\n"
    (out / "b.item").mkdir()  # a folder where the second file goes: its rename fails
    with pytest.raises(OSError):
        with all_or_nothing([str(out / "a.inter"), str(out / "b.item")]):
            pass
    assert sorted(os.listdir(out)) == ["a.inter", "b.item"] and os.listdir(out / "b.item") == []


def test_an_output_that_is_an_input_however_spelt_is_refused(tmp_path, monkeypatch):
    source = tmp_path / "data" / "toy"
    source.mkdir(parents=True)
    (source / "toy.inter").write_text("x")
    os.symlink(source, tmp_path / "link")
    os.link(source / "toy.inter", tmp_path / "hard.inter")
    monkeypatch.chdir(tmp_path / "data")
    inputs = [str(source / "toy.inter")]
    for spelt in (str(source / "toy.inter"), "toy/toy.inter", f"{tmp_path}/data/../data/toy/./toy.inter",
                  str(tmp_path / "link" / "toy.inter"), str(tmp_path / "hard.inter")):
        with pytest.raises(ValueError, match=r"^--out: .* is an input of this command.*write to another path$"):
            refuse_output_onto_input(spelt, inputs, "--out")
    with pytest.raises(ValueError, match="is an input"):  # a folder, through a link, not there yet below
        refuse_output_onto_input([str(tmp_path / "new"), str(tmp_path / "link")], [str(source)], "--name x")
    refuse_output_onto_input([str(source / "other.inter"), str(tmp_path / "new" / "toy.inter")], inputs, "--out")
