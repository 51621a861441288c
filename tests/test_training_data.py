"""Training data: chat and Alpaca records, mixtures, system prompts, one-step vs two-step rows.

Everything here runs without a model; lengths and label masks are checked with the real
tokenizer in test_training_masks.py.
"""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from motcoder.datagen.toy import TRAIN, chat_record, mot_answer, write_alpaca, write_chat
from motcoder.prompts.mot_format import check_mot
from motcoder.training.data import (
    DataReport,
    add_system_prompt,
    apply_ratio,
    load_examples,
    mix,
    read_source,
    system_prompt,
    to_rows,
    two_step,
    weigh,
)
from motcoder.training.settings import (
    BUILD_REQUEST,
    OUTLINE_REQUEST,
    DataSource,
    TrainingError,
    load_settings,
)


@pytest.fixture
def chat_file(tmp_path):
    return write_chat(tmp_path / "mot.jsonl")


@pytest.fixture
def normal_file(tmp_path):
    return write_chat(tmp_path / "normal.jsonl", TRAIN[:4], style="normal")


def test_chat_records_become_examples(chat_file):
    examples = read_source(DataSource(str(chat_file)))
    assert len(examples) == len(TRAIN)
    first = examples[0]
    assert first.style == "mot" and first.task_id == "toy/sum"
    assert [m["role"] for m in first.messages] == ["system", "user", "assistant"]
    assert first.messages[-1]["content"] == mot_answer(TRAIN[0])
    assert first.where == f"{chat_file}:1"


def test_alpaca_records_become_examples_and_styles_are_detected(tmp_path):
    path = write_alpaca(tmp_path / "alpaca.jsonl")
    examples = read_source(DataSource(str(path)))
    assert [m["role"] for m in examples[0].messages] == ["user", "assistant"]
    assert {e.style for e in examples} == {"mot"}   # detected with check_mot
    with_input = tmp_path / "with_input.jsonl"
    with_input.write_text(json.dumps({"instruction": "Add the numbers.", "input": "1 2",
                                      "output": "```python\nprint(3)\n```"}) + "\n")
    (example,) = read_source(DataSource(str(with_input)))
    assert example.messages[0]["content"] == "Add the numbers.\n\n1 2"
    assert example.style == "normal"
    (forced,) = read_source(DataSource(str(with_input), style="clean"))
    assert forced.style == "clean"


@pytest.mark.parametrize("record, needle", [
    ({"prompt": "x"}, "neither a chat record"),
    ({"messages": [{"role": "user", "content": "x"}]}, "last message must be the assistant"),
    ({"messages": [{"role": "bot", "content": "x"}]}, "messages[0] must be"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
      "style": "fancy"}, "style must be one of"),
    ({"instruction": "x", "output": 3}, "Alpaca record needs text fields"),
])
def test_bad_records_name_file_and_line(tmp_path, record, needle):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(chat_record(TRAIN[0])) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(TrainingError) as err:
        read_source(DataSource(str(path)))
    assert f"{path}:2" in str(err.value) and needle in str(err.value)


def test_unreachable_hub_dataset_says_how_to_pass_a_local_file(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TrainingError) as err:
        read_source(DataSource("hf:motcoder-test/no-such-dataset-xyz"))
    assert "no-such-dataset-xyz" in str(err.value)
    assert "local" in str(err.value) and "--data" in str(err.value)


def test_weights_repeat_and_subsample(chat_file):
    examples = read_source(DataSource(str(chat_file)))
    rng = random.Random(0)
    assert len(weigh(examples, 1.0, rng)) == 14
    assert len(weigh(examples, 0.5, rng)) == 7
    twice = weigh(examples, 2.0, rng)
    assert len(twice) == 28 and Counter(id(e) for e in twice) == Counter(
        {id(e): 2 for e in examples})
    assert len(weigh(examples, 1.5, rng)) == 21
    assert weigh(examples, 0.0, rng) == []


def test_mixture_of_files_with_weights_is_reproducible(chat_file, normal_file):
    def run(seed):
        report = DataReport()
        sources = [(DataSource(str(chat_file), 0.5), read_source(DataSource(str(chat_file)))),
                   (DataSource(str(normal_file), 2), read_source(DataSource(str(normal_file))))]
        mixed = mix(sources, None, seed, report)
        return report, [(e.source, e.task_id) for e in mixed]

    report, order = run(1)
    assert report.read == {str(chat_file): 14, str(normal_file): 4}
    assert report.after_weights == {str(chat_file): 7, str(normal_file): 8}
    assert Counter(s for s, _ in order) == {str(chat_file): 7, str(normal_file): 8}
    assert run(1)[1] == order and run(2)[1] != order


def test_mot_ratio_subsamples_the_larger_side(chat_file, normal_file):
    examples = read_source(DataSource(str(chat_file))) + read_source(
        DataSource(str(normal_file)))
    rng = random.Random(0)
    assert Counter(e.style for e in apply_ratio(examples, "1:1", rng)) == {"mot": 4,
                                                                          "normal": 4}
    assert Counter(e.style for e in apply_ratio(examples, "1:2", rng)) == {"mot": 2,
                                                                          "normal": 4}
    assert Counter(e.style for e in apply_ratio(examples, "7:1", rng)) == {"mot": 14,
                                                                          "normal": 2}
    assert {e.style for e in apply_ratio(examples, "1:0", rng)} == {"mot"}
    only_mot = read_source(DataSource(str(chat_file)))
    with pytest.raises(TrainingError, match="cannot be met"):
        apply_ratio(only_mot, "1:1", rng)


def test_system_prompt_follows_the_prompt_style(tmp_path):
    (example,) = read_source(DataSource(str(write_alpaca(tmp_path / "a.jsonl", TRAIN[:1]))))
    auto = add_system_prompt(example, "auto")
    assert auto.messages[0] == {"role": "system", "content": system_prompt("mot")}
    assert add_system_prompt(example, "normal").messages[0]["content"] == \
        system_prompt("normal")
    assert add_system_prompt(example, "data").messages == example.messages
    with_system = read_source(DataSource(str(write_chat(tmp_path / "c.jsonl", TRAIN[:1]))))[0]
    assert add_system_prompt(with_system, "normal").messages == with_system.messages


def test_two_step_splits_outline_and_build(chat_file):
    example = read_source(DataSource(str(chat_file)))[0]
    split = two_step(example, OUTLINE_REQUEST, BUILD_REQUEST)
    roles = [m["role"] for m in split.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    user1, outline, user2, build = (m["content"] for m in split.messages[1:])
    assert user1 == example.messages[1]["content"] + "\n\n" + OUTLINE_REQUEST
    assert user2 == BUILD_REQUEST
    assert outline.startswith("Step 1") and "Step 2" not in outline and "```python" in outline
    assert build.startswith("Step 2") and build.count("```python") == 1
    whole = check_mot(outline + "\n\n" + build)
    assert whole.ok and whole.final == check_mot(mot_answer(TRAIN[0])).final


def test_two_step_leaves_normal_answers_as_one_turn(normal_file):
    example = read_source(DataSource(str(normal_file)))[0]
    assert two_step(example, OUTLINE_REQUEST, BUILD_REQUEST) is example


def test_two_step_refuses_a_mot_labelled_answer_without_steps(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "q"},
                                             {"role": "assistant", "content": "just code"}],
                                "style": "mot"}) + "\n")
    (example,) = read_source(DataSource(str(path)))
    with pytest.raises(TrainingError, match=f"{path}:1: style 'mot'"):
        two_step(example, OUTLINE_REQUEST, BUILD_REQUEST)


def test_rows_one_step_vs_two_step(chat_file):
    one = load_examples(load_settings(None, [f"data={chat_file}"]), DataReport())
    two = load_examples(load_settings(None, [f"data={chat_file}", "layout=two-step"]),
                        DataReport())
    rows = to_rows(one[0], "completion")
    assert len(rows) == 1
    assert [m["role"] for m in rows[0]["prompt"]] == ["system", "user"]
    assert rows[0]["completion"][0]["content"].startswith("Step 1")
    rows = to_rows(two[0], "completion")      # one prompt-completion row per assistant turn
    assert len(rows) == 2
    assert rows[0]["completion"][0]["content"].startswith("Step 1")
    assert rows[1]["prompt"][-2]["content"].startswith("Step 1")   # the outline is context
    assert rows[1]["completion"][0]["content"].startswith("Step 2")
    assert to_rows(two[0], "assistant") == [{"messages": two[0].messages}]
