"""The toy MoT data set (`motcoder.datagen.toy`) is what it claims: every MoT answer has the
MoT structure, every answer passes its problem's tests in the sandbox, and the files written
for `motcoder data toy` load as problems and training data."""

from __future__ import annotations

from motcoder.datagen.toy import (
    HELD_OUT,
    TRAIN,
    mot_answer,
    normal_answer,
    problem,
    program,
    write_toy_set,
)
from motcoder.prompts.mot_format import check_mot


def test_every_mot_answer_has_the_mot_structure():
    for toy in TRAIN + HELD_OUT:
        check = check_mot(mot_answer(toy))
        assert check.ok, (toy.id, check.reason)
        assert not check_mot(normal_answer(toy)).ok


def test_every_answer_passes_its_problem_tests(judge):
    from motcoder.problems.samples import Sample

    for toy in TRAIN + HELD_OUT:
        prob = problem(toy)
        for code in (check_mot(mot_answer(toy)).final, normal_answer(toy).split("```")[1][7:]):
            verdict = judge.judge(prob, Sample(task_id=prob.id, code=code))
            assert verdict.passed, (toy.id, code, verdict)


def test_reference_program_is_the_mot_final_program():
    for toy in TRAIN + HELD_OUT:
        assert check_mot(mot_answer(toy)).final == program(toy)
        assert problem(toy).solutions == [program(toy)]


def test_write_toy_set_files_load(tmp_path):
    from motcoder.problems.registry import load_problems
    from motcoder.training.data import read_source
    from motcoder.training.settings import DataSource

    paths = write_toy_set(tmp_path)
    held = load_problems(str(paths["eval_problems"]))
    assert [p.id for p in held] == [f"toy/{t.id}" for t in HELD_OUT]
    assert {p.difficulty for p in held} == {"introductory", "interview"}
    assert len(load_problems(str(paths["train_problems"]))) == len(TRAIN)
    mot = read_source(DataSource(str(paths["mot"])))
    normal = read_source(DataSource(str(paths["normal"])))
    assert len(mot) == len(normal) == len(TRAIN)
    assert {e.style for e in mot} == {"mot"} and {e.style for e in normal} == {"normal"}
