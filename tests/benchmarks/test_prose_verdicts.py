"""The check of verdict words in prose (benchmarks/prose_verdicts.py), on hand-written sentences."""

from benchmarks import prose_verdicts


def problems(text, seeds=None):
    return [problem for _, problem in prose_verdicts.check_paragraph(text, seeds)]


def test_a_verdict_word_the_t_rule_overturns_fails():
    # t = .0089 / (.0047 / sqrt 3) = 3.28 < 4.30: level, not ahead
    found = problems("The preset is ahead on NDCG@10 (+.0089 ± .0047, 3/3 seeds higher).")
    assert len(found) == 1 and '"ahead" for +.0089 ± .0047 at 3 seeds' in found[0] and "says level" in found[0]
    # the word after the quote, and a difference quoted with 4 decimals and a leading zero
    assert len(problems("NDCG@10 paired -.0184 ± .0105, 0/3 seeds higher: behind under the noise rule.")) == 1
    assert len(problems("Recall@50 level (+0.0172 ± 0.0049 (3/3 seeds higher)).")) == 1  # t = 6.08: ahead


def test_a_verdict_word_the_rule_agrees_with_passes():
    assert problems("The preset is level on NDCG@10 (+.0089 ± .0047, 3/3 seeds higher); ahead on "
                    "Recall@50 (+.0172 ± .0049, 3/3), and behind on NDCG@50 (-.0044 ± .0012, 0/3).") == []
    # the same difference at 5 seeds: t = 4.23 > 2.78
    assert problems("ahead on NDCG@10 (+.0089 ± .0047, 5/5 seeds higher)") == []
    # the direction is not checked: prose may name the rows the other way round
    assert problems("the single interest is ahead on Recall@50 (-.0172 ± .0049, 0/3 seeds higher)") == []


def test_a_borderline_quote_is_skipped_and_a_quote_without_seeds_needs_the_pages_count():
    # .0050 / (.0020 / sqrt 3) = 4.33, but the shown digits allow 4.18 to 4.49: either way round
    assert problems("ahead (+.0050 ± .0020, 3/3 seeds higher)") == []
    assert problems("level (+.0050 ± .0020, 3/3 seeds higher)") == []
    # no k/n: unchecked, unless the page states its seed count
    assert problems("ahead on NDCG@10 (+.0089 ± .0047)") == []
    assert len(problems("ahead on NDCG@10 (+.0089 ± .0047)", seeds=3)) == 1
    # one k/n for the clause gives every quote of it its n
    assert len(problems("ahead on ml-100k (+.0011 ± .0007) and synth (+.0026 ± .0017), 3/3 seeds higher each")) == 2
    # a negated word is not read, and clauses end at ";" and at a sentence's end
    assert problems("not ahead (+.0089 ± .0047, 3/3)") == []
    assert problems("ahead on Recall@50 (+.0172 ± .0049, 3/3). NDCG@10 moved by +.0089 ± .0047 (3/3)") == []


def test_the_old_rule_is_named_only_as_the_old_one():
    assert len(problems("3/3 seeds higher but just short of two standard errors.")) == 1
    assert len(problems("ahead by more than 2 standard errors")) == 1
    assert problems("Under the looser rule used before (two standard errors) it looked ahead.") == []


def test_a_page_reports_the_line_of_the_quote():
    lines = [(10, "Some text.\n"), (11, "The preset is ahead on NDCG@10\n"), (12, "(+.0089 ± .0047, 3/3).\n"),
             (13, "\n"), (14, "ahead on Recall@50 (+.0172 ± .0049, 3/3).\n")]
    found = prose_verdicts.check_page(lines)
    assert len(found) == 1 and found[0].startswith("line 12: ")


def test_verdict_words_in_the_docs_agree_with_the_noise_rule():
    from benchmarks import figures

    assert prose_verdicts.check_pages(figures.pages(), figures.ROOT, figures.prose_lines) == []


def test_a_word_inside_the_quotes_parentheses_is_the_quotes_own():
    text = ("later targets put the preset behind on NDCG@10 (-.0122 ± .0034) and lower on every seed "
            "on Recall@50 (-.0170 ± .0122, level under the t rule; 0/3 seeds higher on either)")
    assert problems(text, seeds=3) == []
    assert len(problems(text.replace("level under", "behind under"), seeds=3)) == 1


def test_the_figures_check_fails_on_a_contradicted_verdict_word(tmp_path, monkeypatch, capsys):
    from benchmarks import figures

    page = tmp_path / "README.md"
    page.write_text("The preset is ahead on NDCG@10 (+.0089 ± .0047, 3/3 seeds higher).\n", encoding="utf-8")
    monkeypatch.setattr(figures, "FILES", [str(page)])
    monkeypatch.setattr(figures, "pages", lambda root=figures.ROOT: [str(page)])
    assert figures.main([]) == 1
    out = capsys.readouterr().out
    assert "a verdict word in prose that the noise rule contradicts" in out and '"ahead" for +.0089 ± .0047' in out
    page.write_text("The preset is level on NDCG@10 (+.0089 ± .0047, 3/3 seeds higher).\n", encoding="utf-8")
    figures.main([])
    assert "noise rule contradicts" not in capsys.readouterr().out
