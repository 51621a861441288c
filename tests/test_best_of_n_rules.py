"""Selection rules of multi-turn Best-of-N on hand-built candidates, and search accuracy.

The candidates' public results and verifier scores are set by hand, so each rule's choice is
known in advance; ties must be broken by the seeded generator, covering every tied option.
"""

from __future__ import annotations

import random

import pytest

from motcoder.sandbox.verdict import Verdict
from motcoder.scoring.searches import search_summary
from motcoder.solvers.best_of_n import (
    BestOfNSettings,
    Scorer,
    score_candidates,
    select_candidate,
)
from motcoder.solvers.multi_turn import Candidate


def cand(passed: int | None, total: int | None, score: float | None = None,
         name: str = "") -> Candidate:
    return Candidate(response=name or f"answer {passed}/{total} {score}", code="x = 1\n",
                     public_passed=passed, public_total=total, score=score)


def picks(candidates: list[Candidate], rule: str, draws: int = 60) -> set[int]:
    return {select_candidate(candidates, rule, random.Random(seed)) for seed in range(draws)}


def test_pt_picks_a_candidate_passing_every_public_test():
    group = [cand(1, 2), cand(2, 2), cand(0, 2), cand(2, 2)]
    assert picks(group, "pt") == {1, 3}        # both passing ones, chosen at random
    assert picks([cand(1, 2), cand(0, 2)], "pt") == {0, 1}  # none passes: any
    # no public tests: nothing passes, so the choice is random
    assert picks([cand(None, None), cand(None, None)], "pt") == {0, 1}


def test_lv_picks_the_highest_score_even_when_it_fails_public_tests():
    group = [cand(2, 2, 0.1), cand(0, 2, 3.5), cand(1, 2, -1.0)]
    assert picks(group, "lv") == {1}
    assert picks([cand(0, 1, 2.0), cand(0, 1, 2.0), cand(0, 1, 1.0)], "lv") == {0, 1}


def test_pt_plus_lv_prefers_public_pass_then_score():
    group = [cand(2, 2, 0.1), cand(0, 2, 50.0), cand(2, 2, 0.7), cand(1, 2, 99.0)]
    assert picks(group, "pt+lv") == {2}
    # without any public pass it is the verifier alone
    assert picks([cand(0, 2, 0.3), cand(1, 2, 0.9)], "pt+lv") == {1}


def test_random_covers_every_candidate_and_is_reproducible():
    group = [cand(2, 2, 9.0), cand(0, 2, 0.0), cand(1, 2, 1.0)]
    assert picks(group, "random") == {0, 1, 2}
    assert [select_candidate(group, "random", random.Random(7)) for _ in range(5)] == \
        [select_candidate(group, "random", random.Random(7)) for _ in range(5)]


def test_rules_needing_a_verifier_refuse_unscored_candidates():
    with pytest.raises(ValueError, match="scored"):
        select_candidate([cand(1, 1)], "lv", random.Random(0))
    with pytest.raises(ValueError, match="unknown selection rule"):
        select_candidate([cand(1, 1, 0.0)], "best", random.Random(0))
    with pytest.raises(ValueError, match="verifier"):
        BestOfNSettings(select="pt+lv")
    with pytest.raises(ValueError, match="candidates"):
        BestOfNSettings(candidates=0)


class LengthScorer:
    """A verifier of the test: longer answers score higher; records what it was shown."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def score(self, problem_message: str, response: str) -> float:
        self.seen.append((problem_message, response))
        return float(len(response))


class BatchScorer(LengthScorer):
    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def score_batch(self, pairs: list[tuple[str, str]]) -> list[float]:
        self.batches += 1
        return [self.score(m, r) for m, r in pairs]


def test_scoring_uses_the_problem_message_and_batches_when_it_can():
    groups = [[cand(0, 1, name="aa"), cand(0, 1, name="a")], [cand(1, 1, name="bbbb")]]
    plain = LengthScorer()
    assert isinstance(plain, Scorer)
    score_candidates(plain, ["problem A", "problem B"], groups)
    assert [c.score for g in groups for c in g] == [2.0, 1.0, 4.0]
    assert plain.seen == [("problem A", "aa"), ("problem A", "a"), ("problem B", "bbbb")]
    batched = BatchScorer()
    score_candidates(batched, ["problem A", "problem B"], groups)
    assert batched.batches == 1 and len(batched.seen) == 3
    assert select_candidate(groups[0], "lv", random.Random(0)) == 0


def verdict(task: str, search: int, turn: int, passed: bool) -> Verdict:
    return Verdict(task_id=task, sample_index=search, passed=passed,
                   status="passed" if passed else "wrong_answer", round=turn)


def test_search_accuracy_is_averaged_over_searches_and_reported_per_turn():
    verdicts = [
        verdict("a", 0, 0, False), verdict("a", 0, 1, True),   # search 0 solves a at turn 2
        verdict("b", 0, 0, False), verdict("b", 0, 1, False),
        verdict("a", 1, 0, True),                              # search 1 solves a at once
        verdict("b", 1, 0, True),                              # ... and b
    ]
    found = search_summary(verdicts)
    assert found["searches"] == 2 and found["problems"] == 2
    assert found["accuracy"]["per_search"] == [0.5, 1.0]
    assert found["accuracy"]["mean"] == pytest.approx(0.75)
    assert found["accuracy"]["std"] == pytest.approx(0.25)
    assert found["turns"]["1"]["per_search"] == [0.0, 1.0]
    assert found["turns"]["2"]["mean"] == pytest.approx(0.75)


def test_run_settings_of_other_solvers_keep_their_config_and_best_of_n_follows_mucode():
    from motcoder.pipeline.generate import Sampling
    from motcoder.pipeline.run import RunSettings

    assert "best_of_n" not in RunSettings().to_config()   # old config.json files still resume
    bon = RunSettings(solver="best_of_n", sampling=Sampling(n=1),
                      best_of_n={"candidates": 2, "searches": 3})
    assert bon.sampling.n == 3                             # one sample per search
    assert bon.evaluation.judge == ["private", "generated"]
    assert bon.to_config()["best_of_n"]["candidates"] == 2
    with pytest.raises(ValueError, match="searches"):
        RunSettings(solver="best_of_n", sampling=Sampling(n=2),
                    best_of_n={"searches": 3})
    with pytest.raises(ValueError, match="only used by solver"):
        RunSettings(solver="direct", best_of_n={"candidates": 2})


def test_a_path_that_is_not_a_verifier_is_a_clear_model_error(tmp_path):
    from motcoder.models.base import ModelError
    from motcoder.solvers.best_of_n import load_scorer

    with pytest.raises(ModelError, match="no such file"):
        load_scorer(tmp_path / "missing")
    with pytest.raises(ModelError, match="cannot load the verifier"):
        load_scorer(tmp_path)
