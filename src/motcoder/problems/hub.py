"""Access to the Hugging Face hub, with one clear error when it cannot be reached.

Loaders call `load_hub_rows` (a dataset split through ``datasets``) or `download_hub_file`
(one raw file through ``huggingface_hub``). Before calling them we decide whether the hub
can be used:

* ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE`` set in the environment *now* (the libraries
  only read them when first imported, so we read them ourselves at call time), or
* the hub endpoint does not accept a TCP connection within a few seconds

switch both libraries to offline mode for the call, so a dataset already in the local cache
still loads and a missing one fails at once instead of after a minute of retries. Any
connection, offline or not-found error becomes one `ProblemLoadError` that says which dataset
failed and how to pass a local file instead.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from motcoder.problems.errors import ProblemLoadError

CONNECT_TIMEOUT_S = 3.0
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
_TRUE = {"1", "ON", "YES", "TRUE"}


def offline_requested() -> bool:
    """True when the environment asks for offline mode (read now, not at import)."""
    return any(os.environ.get(name, "").upper() in _TRUE for name in _OFFLINE_VARS)


def hub_reachable(timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether the hub endpoint accepts a TCP connection (assumed yes behind a proxy)."""
    if any(os.environ.get(name) for name in _PROXY_VARS):
        return True
    from huggingface_hub import constants

    url = urlsplit(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _offline_mode() -> Iterator[None]:
    """Put huggingface_hub and datasets in offline mode (cache only) for the block."""
    import datasets.config
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE = saved


def _hub_errors() -> tuple[type[BaseException], ...]:
    from huggingface_hub.errors import EntryNotFoundError

    errors: list[type[BaseException]] = [OSError, EntryNotFoundError]
    try:
        import httpx

        errors.append(httpx.TransportError)
    except ImportError:  # pragma: no cover - httpx comes with huggingface_hub
        pass
    return tuple(errors)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


@contextlib.contextmanager
def hub_access(what: str, hint: str) -> Iterator[None]:
    """Run hub calls; offline mode when asked or unreachable; errors → `ProblemLoadError`.

    ``what`` names the dataset (``"APPS (codeparrot/apps, test.jsonl)"``); ``hint`` says
    which local file to pass instead (``"an APPS-schema JSONL file"``).
    """
    if offline_requested():
        reason = "offline mode is on (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE is set)"
        offline = True
    elif not hub_reachable():
        reason = "the Hugging Face hub cannot be reached from this machine"
        offline = True
    else:
        reason, offline = "", False
    try:
        with _offline_mode() if offline else contextlib.nullcontext():
            yield
    except _hub_errors() as exc:
        cause = reason or _first_line(exc)
        if offline:
            cause += " and it is not in the local cache"
        raise ProblemLoadError(
            f"could not load {what} from the Hugging Face hub: {cause}. "
            f"Pass a local file instead: --data PATH with {hint}."
        ) from exc


def load_hub_rows(
    repo: str, *, split: str, config: str | None = None, hint: str, what: str | None = None
) -> list[dict[str, Any]]:
    """All rows of one split of a hub dataset, as plain dicts."""
    import datasets

    label = what or f"{repo}" + (f" ({config})" if config else "") + f", split {split}"
    with hub_access(label, hint):
        dataset = datasets.load_dataset(repo, config, split=split)
    return [dict(row) for row in dataset]


def download_hub_file(repo: str, filename: str, *, hint: str, what: str | None = None) -> Path:
    """Download (or take from the cache) one file of a hub dataset repository."""
    from huggingface_hub import hf_hub_download

    with hub_access(what or f"{repo}/{filename}", hint):
        return Path(hf_hub_download(repo_id=repo, filename=filename, repo_type="dataset"))
