"""The README as a front page and the docs/ pages behind it: its commands are the ones CI runs,
every link lands, and the configuration page's key table is properties/MIND.yaml's."""

import glob
import os
import re


from conftest import REPO_ROOT

README = os.path.join(REPO_ROOT, "README.md")
PAGES = [README, *sorted(glob.glob(os.path.join(REPO_ROOT, "docs", "**", "*.md"), recursive=True))]
INSTALL_AND_RUN = 'pip install torch==2.13.0 && pip install -e ".[test]" && python run_recbole_mind.py --dataset=ml-100k'
TEST_COMMAND = 'python -m pytest -q -m "not slow" --durations=15'
PRESET_COMMAND = "python run_recbole_mind.py --preset=recommended"
LINK = re.compile(r"\]\(([^)\s]+)\)")
# issue 39 removed these levers; a config may still set them to their old default, so they stay
# readable in MIND.yaml until that removal lands, but the key table no longer offers them
REMOVED_LEVERS = {
    "recency_embedding", "routing_recency_prior", "short_term_attention", "short_term_order_mlp",
    "routing_gradient", "routing_regularization", "future_targets", "hard_negative_beta",
}


def read(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read()


def test_readme_is_a_front_page_with_the_commands_ci_runs():
    readme = read(README)
    assert len(readme.splitlines()) <= 200
    lines = [line.strip() for line in readme.splitlines()]
    for command in (INSTALL_AND_RUN, TEST_COMMAND, PRESET_COMMAND):
        assert command in lines, command
    assert TEST_COMMAND in read(os.path.join(REPO_ROOT, ".ci", "run")).splitlines()


def heading_anchors(text: str) -> set[str]:
    """GitHub's anchors of the headings of a markdown text (code blocks skipped)."""
    anchors, in_code = set(), False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_heading_anchors_follow_github():
    assert heading_anchors("## Multi-target: held-out users, several future items\n# Working with RecBole's `x`") == {
        "multi-target-held-out-users-several-future-items", "working-with-recboles-x"}


def test_every_relative_link_of_the_readme_and_docs_lands_on_a_file_and_heading():
    broken = []
    for page in PAGES:
        for target in LINK.findall(read(page)):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            if not os.path.exists(resolved):
                broken.append(f"{os.path.relpath(page, REPO_ROOT)}: {target} (no such file)")
            elif anchor and resolved.endswith(".md") and anchor not in heading_anchors(read(resolved)):
                broken.append(f"{os.path.relpath(page, REPO_ROOT)}: {target} (no such heading)")
    assert broken == []


def key_table(page: str, heading: str) -> dict[str, str]:
    """key -> default cell of the first table under ``heading``."""
    section = read(page).split(f"\n{heading}\n", 1)[1]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells[1]
        elif rows:
            break
    return rows


def table_defaults(owner: str, **extra) -> dict:
    """The settings table's defaults of one owner (tests/settings/test_table.py holds the YAML files to them)."""
    from recbole_mind.settings.table import owned_by

    return {**{name: setting.default for name, setting in owned_by(owner).items()}, **extra}


def test_configuration_page_lists_every_key_of_the_settings_table_with_its_default():
    from recbole_mind.settings.table import MIND_RECBOLE_DEFAULTS

    defaults = table_defaults("MIND", **MIND_RECBOLE_DEFAULTS)
    table = key_table(os.path.join(REPO_ROOT, "docs", "configuration.md"), "## MIND's keys")
    shown = {key: "~" if value is None else str(value) for key, value in defaults.items()}
    assert set(table) == set(shown) - REMOVED_LEVERS
    assert {key: cell for key, cell in table.items() if cell != shown[key]} == {}


def test_configuration_and_diversity_pages_list_the_diversity_keys_with_their_defaults():
    defaults = table_defaults("diversity")
    shown = {key: "~" if value is None else str(value) for key, value in defaults.items()}
    assert key_table(os.path.join(REPO_ROOT, "docs", "configuration.md"), "## Diversity keys") == shown
    assert key_table(os.path.join(REPO_ROOT, "docs", "diversity.md"), "## Evaluation") == shown
