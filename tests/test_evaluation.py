"""The eval command: metric units on hand-made answers, the bundled set end to end (extractive),
the quickstart baseline's wiring (stub generator), and a RealTimeQA slice when the benchmark is here.

Floors sit a little below measured values (docs/EVALUATION.md); raise them as the engine improves.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT, SHARED, make_settings

from byline.evaluation import indexes, metrics, report
from byline.evaluation.dataset import DatasetError, Question, load_questions, parse_question
from byline.evaluation.runner import ask_all, history_for, run_cli
from byline.types import Answer, Citation, Passage, ScoredPassage, Turn

BUNDLED = ROOT / "evals" / "bundled.jsonl"
HELD_OUT = ROOT / "evals" / "heldout.jsonl"
RTQA = SHARED / "benchmarks" / "realtimeqa"

# Measured with the extractive backend (docs/EVALUATION.md); the floors leave room for noise.
BUNDLED_FLOORS = {"answer_accuracy": 0.94, "refusal_accuracy": 1.0, "hit@5": 0.95}  # measured 0.96, 1.0, 1.0 (2026-12-01, session 6); every unanswerable question must stay refused
RTQA_SLICE_FLOORS = {"hit@5": 0.7}
# evals/check3_bundled.jsonl, typed as users type, written blind and first run on 2026-12-02
# (session 9), with the answer layer as it landed: answer tier 0.556, shown 0.741, unanswerable
# kept out 0.90, false refusals 0.037. (check2's floors, 0.30 / 0.43 / 0.625, were from its own
# first run; it has been tuned on since.)
CHECK_FLOORS = {"answer_accuracy": 0.50, "shown": 0.70, "refusal_accuracy": 0.80, "hit@5": 0.95}
CHECK_CEILINGS = {"false_refusals": 0.10}
# evals/check4_bundled.jsonl, written blind in session 10 and first run on 2026-12-02 with the
# leading article read whole: answer tier 0.730, shown 0.921, unanswerable kept out 0.727 (8 of
# 11), false refusals 0.0, hit@5 1.0.
CHECK4_FLOORS = {"answer_accuracy": 0.70, "shown": 0.90, "refusal_accuracy": 0.70, "hit@5": 0.95}
CHECK4_CEILINGS = {"false_refusals": 0.05}
# evals/check5_bundled.jsonl, written blind in session 12 (typos, "FM", "press guy") and first run
# on 2026-12-02: answer tier 0.481, shown 0.741, unanswerable kept out 0.9 (9 of 10), false
# refusals 0.019, hit@5 1.0.
CHECK5_FLOORS = {"answer_accuracy": 0.48, "shown": 0.74, "refusal_accuracy": 0.90, "hit@5": 0.98}
CHECK5_CEILINGS = {"false_refusals": 0.02}
# evals/check7_bundled.jsonl, written blind in session 13 (34 follow-ups) and run on 2026-12-03 with
# the session's answer layer, never read: answer tier 0.545, shown 0.742, unanswerable kept out
# 0.692 (9 of 13), false refusals 0.045, hit@5 1.0.
# Raised in session 14 (units re-read with their headline, long pairs quoted by their sentences):
# answer tier 0.576, shown 0.773, the rest unchanged.
# Raised in session 15 (quotes of 60 words, chosen on the tuning sets; check7 not read): 0.591, 0.788.
CHECK7_FLOORS = {"answer_accuracy": 0.59, "shown": 0.78, "refusal_accuracy": 0.69, "hit@5": 0.98}
CHECK7_CEILINGS = {"false_refusals": 0.05}
# evals/check9_bundled.jsonl, written blind in session 14 (23 follow-ups, 11 unanswerable) and run
# on 2026-12-03 with the session's answer layer, never read before: answer tier 0.672, shown
# 0.787, unanswerable kept out 0.636 (7 of 11), false refusals 0.016, hit@5 1.0.
CHECK9_FLOORS = {"answer_accuracy": 0.66, "shown": 0.78, "refusal_accuracy": 0.63, "hit@5": 0.98}
CHECK9_CEILINGS = {"false_refusals": 0.02}
# evals/check10_bundled.jsonl, written blind in session 14 and first run on 2026-12-03 on the
# session's last code, never read: answer tier 0.542, shown 0.763, unanswerable kept out 0.727
# (8 of 11), false refusals 0.034, hit@5 1.0.
CHECK10_FLOORS = {"answer_accuracy": 0.54, "shown": 0.76, "refusal_accuracy": 0.72, "hit@5": 0.98}
CHECK10_CEILINGS = {"false_refusals": 0.04}
# evals/check11_bundled.jsonl, written blind in session 15 (22 follow-ups, 11 unanswerable), run on
# 2026-12-03 on session 14's code (0.738 / 0.869) and on session 15's, never read: answer tier
# 0.754, shown 0.885, unanswerable kept out 0.909 (10 of 11), false refusals 0.0, hit@5 1.0.
CHECK11_FLOORS = {"answer_accuracy": 0.75, "shown": 0.88, "refusal_accuracy": 0.90, "hit@5": 0.98}
CHECK11_CEILINGS = {"false_refusals": 0.02}


# --- helpers ------------------------------------------------------------------------------------
def q(id="q1", answers=("Geneva",), sources=("a1",), unanswerable=False, follow_up_of=None, text="Where?") -> Question:
    return Question(id, text, list(answers), list(sources), unanswerable, follow_up_of=follow_up_of)


def sp(article_id: str, i: int = 0, score: float = 1.0) -> ScoredPassage:
    return ScoredPassage(Passage(f"{article_id}#{i}", article_id, i, "text", 0, 4), score)


def cite(n: int, article_id: str) -> Citation:
    return Citation(n, article_id, "t", "", "", "", "p", 1.0)


def ans(text: str, refused: bool = False, retrieved=(), cited=(), total: float = 1.0, standalone: str = "") -> Answer:
    return Answer(
        "q", text, refused, [cite(i + 1, a) for i, a in enumerate(cited)], "refused" if refused else "extractive",
        standalone_question=standalone, timings={"total": total}, retrieved=list(retrieved),
    )  # fmt: skip


# --- (a) metrics ----------------------------------------------------------------------------------
def test_normalize_strips_punctuation_quotes_and_case():
    assert metrics.normalize("  “Squid  Game”! ") == "squid game"
    assert metrics.normalize("Moscow. Kremlin. Putin.") == "moscow kremlin putin"
    assert metrics.normalize("We’ll   SEE") == metrics.normalize("we'll see") == "we ll see"
    assert metrics.normalize("Secretary-General") == metrics.normalize("Secretary General")
    assert metrics.normalize("«Dec. 7»") == "dec 7"


def test_contains_answer_on_word_boundaries():
    assert metrics.contains_answer("The summit was held in Geneva [1].", ["Vienna", "geneva"])
    assert metrics.contains_answer("Sergei Lavrov’s talk on Tuesday", ["Lavrov"])
    assert metrics.contains_answer("“Squid Game” returns", ["“Squid Game”"])
    assert not metrics.contains_answer("It happened in 2023.", ["3"])
    assert not metrics.contains_answer("Prices rose.", ["Price"])
    assert not metrics.contains_answer("anything", [])
    assert not metrics.contains_answer("anything", ["", "  "])
    assert metrics.contains_answer("detention extended six months", ["6"])  # number words read as digits
    assert metrics.contains_answer("one more round of talks", ["one more round"])
    assert not metrics.contains_answer("sixteen of them", ["6"])


def test_article_rank_dedupes_passages_by_article():
    # passages a,a,b,c,gold -> articles a,b,c,gold: the gold article is 4th
    assert metrics.article_rank(["a", "a", "b", "c", "g", "g"], {"g"}) == 4
    assert metrics.article_rank(["g", "a"], {"g", "a"}) == 1
    assert metrics.article_rank(["a", "b"], {"g"}) is None
    assert metrics.article_rank([], {"g"}) is None


def test_hit_at_k_and_mrr():
    assert metrics.hit_at(1, 1) and metrics.hit_at(5, 5) and not metrics.hit_at(6, 5) and not metrics.hit_at(None, 10)
    assert metrics.reciprocal_rank(1) == 1.0
    assert metrics.reciprocal_rank(4) == 0.25
    assert metrics.reciprocal_rank(11) == 0.0
    assert metrics.reciprocal_rank(None) == 0.0


def test_score_and_summarize_on_hand_made_answers():
    rows = [
        # correct, gold first, cites gold only
        metrics.score(q("a"), ans("Geneva [1]", retrieved=[sp("a1")], cited=["a1"], total=1.0), 1.1),
        # wrong, gold at article rank 2 (after two passages of x), cites gold and x
        metrics.score(q("b"), ans("Vienna [1][2]", retrieved=[sp("x"), sp("x", 1), sp("a1")], cited=["x", "a1"], total=2.0), 2.1),
        # answerable but refused: a false refusal, nothing cited, gold not retrieved
        metrics.score(q("c"), ans("The articles don't cover this question.", refused=True, retrieved=[sp("x")], total=3.0), 3.1),
        # unanswerable and refused
        metrics.score(q("d", (), (), True), ans("The articles don't cover this question.", refused=True, retrieved=[sp("x")], total=4.0), 4.1),
        # unanswerable, answered anyway
        metrics.score(q("e", (), (), True), ans("one two three four five", retrieved=[sp("x")], cited=["x"], total=5.0), 5.1),
    ]
    assert [r.correct for r in rows] == [True, False, False, None, None]
    assert [r.rank for r in rows] == [1, 2, None, None, None]
    assert rows[1].citation_precision == 0.5 and rows[1].cites_gold
    assert rows[2].citation_precision is None and rows[2].cites_gold is False
    assert rows[4].cites_gold is None  # no gold sources: not a citation question

    s = metrics.summarize(rows)
    assert (s["questions"], s["answerable"], s["unanswerable"]) == (5, 3, 2)
    assert s["answer_accuracy"] == pytest.approx(1 / 3, abs=1e-3)  # over answerable only
    assert s["hit@1"] == pytest.approx(1 / 3, abs=1e-3)
    assert s["hit@5"] == pytest.approx(2 / 3, abs=1e-3)
    assert s["mrr@10"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-3)
    assert s["citation_accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert s["citation_precision"] == pytest.approx((1 + 0.5) / 2, abs=1e-3)
    assert s["refusal_accuracy"] == 0.5  # d refused, e not
    assert s["false_refusals"] == pytest.approx(1 / 3, abs=1e-3)  # c
    assert s["latency_p50_s"] == 3.0 and s["latency_p95_s"] == 5.0
    assert s["wall_p50_s"] == 3.1
    assert s["median_words"] == 1  # refusals excluded, "[1]" markers are not words: 1, 1, 5
    assert [r.id for r in metrics.failures(rows)] == ["b", "c", "e"]


def test_median_words_ignores_citation_markers_and_refusals():
    rows = [
        metrics.score(q("a"), ans("Geneva [1]"), 0.1),
        metrics.score(q("b"), ans("in Geneva, Switzerland [1, 2]"), 0.1),
        metrics.score(q("c"), ans("The articles don't cover this question.", refused=True), 0.1),
    ]
    assert [r.words for r in rows[:2]] == [1, 3]
    assert metrics.summarize(rows)["median_words"] == 2
    # Ellipses and dashes around a trimmed quote are not words.
    assert metrics.word_count("Squid Game is back — “… the show returns …” [1]") == 7


def test_summary_of_a_set_without_unanswerable_questions_has_no_refusal_accuracy():
    s = metrics.summarize([metrics.score(q("a"), ans("Geneva"), 0.1)])
    assert s["refusal_accuracy"] is None and s["false_refusals"] == 0.0


def test_percentile_nearest_rank():
    assert metrics.percentile([], 50) is None
    assert metrics.percentile([3, 1, 2], 50) == 2
    assert metrics.percentile(list(range(1, 101)), 95) == 95


# --- (a) follow-up history and the ask loop -------------------------------------------------------
class RecordingPipeline:
    name = "fake"

    def __init__(self, fail_on=()):
        self.calls: list[tuple[str, list[Turn], str | None]] = []
        self.fail_on = set(fail_on)

    def ask(self, question, history, question_date):
        self.calls.append((question, history, question_date))
        if question in self.fail_on:
            raise RuntimeError("backend down")
        return ans(f"answer to {question}", retrieved=[sp("a1")], cited=["a1"], standalone=f"standalone {question}")


def test_follow_up_gets_the_previous_turn_from_this_run():
    questions = [
        q("b01", text="Where was the summit?"),
        q("b02", text="What did they agree?", follow_up_of="b01"),
        Question("b03", "Unrelated?", ["x"], ["a1"], question_date="2022-06-16"),
    ]
    pipeline = RecordingPipeline()
    rows = ask_all(pipeline, questions)
    assert [c[1] for c in pipeline.calls] == [
        [],
        [Turn("Where was the summit?", "answer to Where was the summit?", "standalone Where was the summit?")],
        [],
    ]
    assert pipeline.calls[2][2] == "2022-06-16" and pipeline.calls[0][2] is None
    assert [r.id for r in rows] == ["b01", "b02", "b03"]


def test_history_follows_a_chain_and_skips_failed_turns():
    by_id = {x.id: x for x in [q("1", text="A?"), q("2", text="B?", follow_up_of="1"), q("3", text="C?", follow_up_of="2")]}
    answers = {"1": ans("a", standalone="A?"), "2": ans("b", standalone="B about A?")}
    assert history_for(by_id["3"], by_id, answers) == [Turn("A?", "a", "A?"), Turn("B?", "b", "B about A?")]
    assert history_for(by_id["3"], by_id, {"2": answers["2"]}) == [Turn("B?", "b", "B about A?")]


def test_a_failing_question_is_an_error_row_and_the_run_goes_on():
    pipeline = RecordingPipeline(fail_on={"Where?"})
    rows = ask_all(pipeline, [q("a"), q("b", text="Other?")])
    assert rows[0].error.startswith("RuntimeError") and rows[0].correct is False and rows[0].mode == "error"
    assert rows[1].error == ""
    assert metrics.summarize(rows)["errors"] == 1


# --- (a) question sets ----------------------------------------------------------------------------
def test_bundled_set_loads_and_is_consistent():
    questions = load_questions(BUNDLED)
    assert len(questions) == 63
    ids = {p.stem for p in CORPUS.glob("*.md")}
    assert all(set(x.sources) <= ids for x in questions)
    assert sum(x.unanswerable for x in questions) == 12
    assert load_questions(BUNDLED, limit=5) == questions[:5]


def test_held_out_set_is_consistent_with_the_corpus():
    from byline.corpus import read_articles
    from byline.evaluation.metrics import normalize

    questions = load_questions(HELD_OUT)
    texts = {a.id: normalize(f"{a.title} {a.text}") for a in read_articles([CORPUS])}
    assert len(questions) == 24 and sum(x.unanswerable for x in questions) == 6
    assert not {x.id for x in questions} & {x.id for x in load_questions(BUNDLED)}
    for x in questions:
        assert set(x.sources) <= set(texts), x.id
        # Every answerable question's answer is in one of its sources, as the scorer reads it.
        assert x.unanswerable or any(normalize(a) in texts[s] for a in x.answers for s in x.sources), x.id


def test_bad_lines_are_reported_with_their_line_numbers(tmp_path):
    path = tmp_path / "set.jsonl"
    lines = [
        json.dumps({"id": "a", "question": "Q?", "answers": ["x"], "sources": ["s"], "unanswerable": False}),
        "{not json",
        json.dumps({"id": "a", "question": "Q?", "answers": ["x"], "sources": []}),
        json.dumps({"id": "c", "question": "", "answers": ["x"], "sources": []}),
        json.dumps({"id": "d", "question": "Q?", "answers": [], "sources": [], "unanswerable": False}),
        json.dumps({"id": "e", "question": "Q?", "answers": ["x"], "sources": [], "question_date": "16/06/2022"}),
        json.dumps({"id": "f", "question": "Q?", "answers": ["x"], "sources": [], "follow_up_of": "zz"}),
        json.dumps({"id": "g", "question": "Q?", "answers": "x", "sources": []}),
        json.dumps(["not", "an", "object"]),
    ]
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        load_questions(path)
    message = str(info.value)
    for lineno in range(2, 10):
        assert f"set.jsonl:{lineno}:" in message
    assert "set.jsonl:1:" not in message
    assert "duplicate id 'a'" in message and "YYYY-MM-DD" in message and "earlier question" in message


def test_check_sets_are_consistent_with_their_corpora():
    """The blind check sets: ids unique, follow-ups point back, every answer in one of its sources,
    RealTimeQA sources published before the question date."""
    from byline.corpus import read_articles
    from byline.evaluation.metrics import normalize

    bundled = {a.id: normalize(f"{a.title} {a.text}") for a in read_articles([CORPUS])}
    # The RealTimeQA sets are checked where the benchmark is (beside the repo); the bundled ones always.
    present = (RTQA / "corpus.jsonl").exists()
    rtqa = {r["id"]: r for r in map(json.loads, (RTQA / "corpus.jsonl").open(encoding="utf-8"))} if present else {}
    for name, texts in [(f"check{n}_bundled", bundled) for n in range(3, 14)] + [(f"check{n}_realtimeqa", None) for n in range(3, 14) if present]:
        questions = load_questions(ROOT / "evals" / f"{name}.jsonl")
        ids = [x.id for x in questions]
        assert len(ids) == len(set(ids)) and 0.1 <= sum(x.unanswerable for x in questions) / len(ids) <= 0.2
        for i, x in enumerate(questions):
            assert x.follow_up_of is None or x.follow_up_of in ids[:i], x.id
            if x.unanswerable:
                assert not x.answers and not x.sources, x.id
                continue
            if texts is None:
                assert all(rtqa[s]["published"][:10] <= x.question_date for s in x.sources), x.id
                found = {s: normalize(f"{rtqa[s]['title']} {rtqa[s]['text']}") for s in x.sources}
            else:
                found = {s: texts[s] for s in x.sources}
            assert any(normalize(a) in t for a in x.answers for t in found.values()), x.id
    if not present:
        pytest.skip("RealTimeQA benchmark not present: its check sets were not checked")


def test_missing_and_empty_sets(tmp_path):
    with pytest.raises(DatasetError, match="no such question set"):
        load_questions(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="holds no questions"):
        load_questions(tmp_path / "empty.jsonl")


def test_unanswerable_question_must_not_carry_answers():
    with pytest.raises(ValueError, match="unanswerable"):
        parse_question({"id": "x", "question": "Q?", "answers": ["a"], "sources": [], "unanswerable": True})
    extra = parse_question({"id": "x", "question": "Q?", "answers": ["a"], "sources": ["s"], "week": "20220617"})
    assert extra.extra == {"week": "20220617"} and extra.answerable


@pytest.mark.skipif(not RTQA.exists(), reason="RealTimeQA benchmark not present")
def test_realtimeqa_dev_is_in_the_same_format():
    questions = load_questions(RTQA / "dev.jsonl")
    assert len(questions) == 103 and all(x.question_date and len(x.choices) == 4 for x in questions)


# --- (a) index folders ----------------------------------------------------------------------------
def test_each_corpus_gets_its_own_index_folders(tmp_path):
    settings = make_settings(tmp_path)
    a, b = tmp_path / "c1" / "news.jsonl", tmp_path / "c2" / "news.jsonl"
    ka, kb = indexes.corpus_key(a), indexes.corpus_key(b)
    assert ka != kb and ka.startswith("news-") and ka == indexes.corpus_key(a)
    eval_settings = indexes.byline_settings(settings, a)
    assert eval_settings.index_dir == tmp_path / "indexes" / ka != settings.index_dir
    assert indexes.baseline_dir(settings, a).name == ka.replace("news-", "news-baseline-")


def test_index_built_another_way_is_rebuilt(tmp_path):
    settings = make_settings(tmp_path)
    fp = indexes.byline_fingerprint(settings)
    folder = tmp_path / "idx"
    assert not indexes.needs_rebuild(folder, fp)  # nothing there yet
    folder.mkdir()
    (folder / "chroma").mkdir()
    assert indexes.needs_rebuild(folder, fp)  # unknown make
    indexes.write_fingerprint(folder, fp)
    assert not indexes.needs_rebuild(folder, fp)
    assert indexes.needs_rebuild(folder, indexes.byline_fingerprint(settings.model_copy(update={"chunk_tokens": 256})))


# --- (a) report -------------------------------------------------------------------------------------
def test_report_files_from_hand_made_results(tmp_path):
    hit = {"retrieved": [sp("a1")], "cited": ["a1"]}
    rows = [metrics.score(q("a"), ans("Geneva", **hit), 0.5), metrics.score(q("b", ("x|y",)), ans("no", **hit), 0.7)]
    results = {
        "meta": {"questions": 2, "corpus": "c", "backends": {"byline": "extractive"}, "set": "s.jsonl"},
        "summary": {"byline": metrics.summarize(rows)},
        "ingest": {"byline": {"index": "i", "articles": 1, "summary": "ok"}},
        "rows": {"byline": [r.to_json() for r in rows]},
    }
    files = report.write_all(results, tmp_path / "out")
    assert [f.name for f in files] == ["report.md", "results.json", "chart.png"]
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "| Answer accuracy (answer tier, answerable) | 50.0% |" in md
    assert "| b | wrong answer | answer / extractive | Where? | x\\|y | no | 1 |" in md  # failures table (tier / mode), pipes escaped
    assert "| a |" not in md
    assert (tmp_path / "out" / "chart.png").read_bytes()[:4] == b"\x89PNG"


def test_runs_combine_into_one_side_by_side_report(tmp_path):
    hit = {"retrieved": [sp("a1")], "cited": ["a1"]}

    def run(backend: str, reply: str) -> dict:
        rows = [metrics.score(q("a"), ans(reply, **hit), 0.5)]
        return {
            "meta": {"questions": 1, "corpus": "c", "backends": {"byline": backend}, "set": "s.jsonl"},
            "summary": {"byline": metrics.summarize(rows)},
            "rows": {"byline": [r.to_json() for r in rows]},
        }

    both = report.combine([run("extractive", "Geneva"), run("local", "Paris")])
    assert list(both["summary"]) == ["byline-extractive", "byline-local"]
    assert both["summary"]["byline-extractive"]["answer_accuracy"] == 1.0 and both["summary"]["byline-local"]["answer_accuracy"] == 0.0
    md = report.markdown(both)
    assert "| Answer accuracy (answer tier, answerable) | 100.0% | 0.0% |" in md
    other = run("local", "Geneva")
    other["meta"]["set"] = "other.jsonl"
    with pytest.raises(ValueError, match="different question sets"):
        report.combine([run("extractive", "Geneva"), other])


# --- (b) the bundled set end to end -----------------------------------------------------------------
def _run_eval(tmp_path: Path, capsys, argv: list[str]) -> tuple[int, dict]:
    from rich.console import Console

    from byline.cli import build_parser, settings_from

    args = build_parser().parse_args(["eval", *argv, "--index-dir", str(tmp_path / "index"), "--json"])
    code = run_cli(args, settings_from(args), Console(stderr=True, force_terminal=False))
    out = capsys.readouterr().out
    return code, json.loads(out) if code == 0 else {}


def test_bundled_set_end_to_end_extractive(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for f in CORPUS.glob("*.md"):
        shutil.copy(f, corpus / f.name)
    out = tmp_path / "out"
    code, printed = _run_eval(tmp_path, capsys, ["--set", str(BUNDLED), "--corpus", str(corpus), "--backend", "extractive", "--out", str(out)])
    assert code == 0
    summary = printed["summary"]["byline"]
    assert summary["questions"] == 63 and summary["errors"] == 0
    for key, floor in BUNDLED_FLOORS.items():
        assert summary[key] >= floor, f"{key} {summary[key]} fell below {floor}"
    for name in ("report.md", "results.json", "chart.png"):
        assert (out / name).stat().st_size > 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(results["rows"]["byline"]) == 63 and results["summary"]["byline"] == summary
    assert (tmp_path / "indexes").is_dir() and not (tmp_path / "index").exists()  # its own index


@pytest.mark.parametrize(
    "name, count, floors, ceilings",
    [
        ("check3_bundled", 64, CHECK_FLOORS, CHECK_CEILINGS),
        ("check4_bundled", 74, CHECK4_FLOORS, CHECK4_CEILINGS),
        ("check5_bundled", 64, CHECK5_FLOORS, CHECK5_CEILINGS),
        ("check7_bundled", 79, CHECK7_FLOORS, CHECK7_CEILINGS),
        ("check9_bundled", 72, CHECK9_FLOORS, CHECK9_CEILINGS),
        ("check10_bundled", 70, CHECK10_FLOORS, CHECK10_CEILINGS),
        ("check11_bundled", 72, CHECK11_FLOORS, CHECK11_CEILINGS),
    ],
)
def test_user_typed_questions_hold_their_held_out_floors(tmp_path, capsys, name, count, floors, ceilings):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for f in CORPUS.glob("*.md"):
        shutil.copy(f, corpus / f.name)
    code, printed = _run_eval(tmp_path, capsys, ["--set", str(ROOT / "evals" / f"{name}.jsonl"), "--corpus", str(corpus), "--backend", "extractive", "--out", str(tmp_path / "out")])
    assert code == 0
    summary = printed["summary"]["byline"]
    assert summary["questions"] == count and summary["errors"] == 0
    for key, floor in floors.items():
        assert summary[key] >= floor, f"{key} {summary[key]} fell below {floor}"
    for key, ceiling in ceilings.items():
        assert summary[key] <= ceiling, f"{key} {summary[key]} rose above {ceiling}"


def test_bad_set_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    code, _ = _run_eval(tmp_path, capsys, ["--set", str(bad), "--corpus", str(CORPUS)])
    assert code == 2
    code, _ = _run_eval(tmp_path, capsys, ["--set", str(BUNDLED), "--corpus", str(tmp_path / "missing")])
    assert code == 2


# --- the quickstart baseline's wiring, with a stub generator ---------------------------------------
class StubGenerator:
    """Stands in for the language model: records each prompt, always answers "Geneva"."""

    model = "stub"

    def __init__(self):
        self.prompts: list[list[dict]] = []

    def complete(self, messages, max_tokens=64, temperature=0.0):
        self.prompts.append(messages)
        return "Geneva, according to the articles."

    def stream(self, messages, max_tokens=64, temperature=0.0):
        yield self.complete(messages, max_tokens)


def test_baseline_pipeline_retrieves_two_source_nodes_and_cites_them(tmp_path):
    from byline.evaluation.baseline import SIMILARITY_TOP_K, BaselinePipeline

    settings = make_settings(tmp_path, backend="local", llm_parallel=1)
    stub = StubGenerator()
    pipeline = BaselinePipeline(settings, CORPUS, tmp_path / "baseline", stub, settings)
    info = pipeline.prepare()
    assert info["added"] == 5 and pipeline.article_ids() == {p.stem for p in CORPUS.glob("*.md")}
    rows = ask_all(pipeline, load_questions(BUNDLED, limit=3))
    assert len(stub.prompts) == 3  # one call per question: the two chunks fit the declared window
    assert stub.prompts[0][-1]["role"] == "user" and "Where did Biden and Putin" in stub.prompts[0][-1]["content"]
    assert all(len(r.retrieved) == SIMILARITY_TOP_K and len(r.cited) == SIMILARITY_TOP_K for r in rows)
    assert rows[0].correct and rows[0].rank is not None
    again = BaselinePipeline(settings, CORPUS, tmp_path / "baseline", stub, settings).prepare()
    assert again["added"] == 0  # reruns reuse the index


# --- (c) a RealTimeQA slice ---------------------------------------------------------------------------
def _rtqa_slice(dest: Path, n_questions: int = 10, n_others: int = 150, other_words: int = 250) -> tuple[Path, Path]:
    """The first questions of dev, their gold articles in full, and other articles (a fixed choice by
    hash of id) cut to their first `other_words` words so the slice indexes in CI time."""
    questions = [json.loads(line) for line in (RTQA / "dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()][:n_questions]
    gold = {s for x in questions for s in x["sources"]}
    articles = [json.loads(line) for line in (RTQA / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    by_id = {a["id"]: a for a in articles}
    others = sorted((i for i in by_id if i not in gold), key=lambda i: hashlib.sha1(i.encode()).hexdigest())[:n_others]
    for i in others:
        by_id[i] = {**by_id[i], "text": " ".join(by_id[i]["text"].split(" ")[:other_words])}
    corpus = dest / "rtqa-slice.jsonl"
    corpus.write_text("\n".join(json.dumps(by_id[i]) for i in sorted(gold) + others) + "\n", encoding="utf-8")
    qset = dest / "rtqa-slice-questions.jsonl"
    qset.write_text("\n".join(json.dumps(x) for x in questions) + "\n", encoding="utf-8")
    return qset, corpus


@pytest.mark.skipif(not RTQA.exists(), reason="RealTimeQA benchmark not present")
def test_realtimeqa_slice_retrieval(tmp_path, capsys):
    qset, corpus = _rtqa_slice(tmp_path)
    code, printed = _run_eval(tmp_path, capsys, ["--set", str(qset), "--corpus", str(corpus), "--backend", "extractive", "--out", str(tmp_path / "out")])
    assert code == 0
    summary = printed["summary"]["byline"]
    assert summary["questions"] == 10 and summary["errors"] == 0
    for key, floor in RTQA_SLICE_FLOORS.items():
        assert summary[key] >= floor, f"{key} {summary[key]} fell below {floor}"
