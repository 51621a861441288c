"""A `LanguageModel` over any OpenAI-compatible HTTP server.

Works against vLLM, SGLang, the llama.cpp server, OpenAI itself, and ``motcoder serve``. Chats
go to ``POST {base_url}/chat/completions``, raw prompts to ``POST {base_url}/completions``.

* Every request of a batch is one HTTP request (more when a server returns fewer than ``n``
  choices: the missing samples are asked for again, with a shifted seed), all issued
  concurrently with at most ``max_concurrency`` in flight (shared by all callers of the model).
* 429, 408, 5xx, timeouts and connection errors are retried up to ``max_retries`` times with
  exponential backoff and full jitter; ``Retry-After`` / ``retry-after-ms`` are honoured. Other
  4xx answers fail at once with the server's own message.
* Token usage from each response's ``usage`` is added to `OpenAIModel.usage` (cumulative,
  for cost accounting).
* `OpenAIModel.generate` is synchronous and safe from plain code, from threads and from
  inside a running event loop: the HTTP work runs on a private event loop in a background
  thread. Async callers can ``await model.agenerate(requests)`` instead.

Greedy requests (``temperature == 0``) with ``n > 1`` ask the server for one output and repeat
it, as the protocol allows.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import ipaddress
import os
import random
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from motcoder.models.base import Completion, GenerationRequest, ModelError, Output

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


@dataclass
class Usage:
    """Cumulative token accounting of one `OpenAIModel` (all calls, all threads)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0          # successful HTTP requests
    retries: int = 0           # failed attempts that were retried
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, prompt_tokens: int = 0, completion_tokens: int = 0, requests: int = 0,
            retries: int = 0) -> None:
        with self._lock:
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
            self.requests += requests
            self.retries += retries

    def to_dict(self) -> dict[str, int]:
        with self._lock:
            return {"prompt_tokens": self.prompt_tokens,
                    "completion_tokens": self.completion_tokens,
                    "total_tokens": self.prompt_tokens + self.completion_tokens,
                    "requests": self.requests, "retries": self.retries}


class _Retryable(Exception):
    """One failed attempt that may succeed when repeated."""

    def __init__(self, message: str, *, retry_after: float | None = None,
                 connect: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.connect = connect


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (IPv4 and IPv6)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_base_url(base_url: str) -> str:
    """``http://h:p`` → ``http://h:p/v1``; ``http://h:p/v1/`` → ``http://h:p/v1``."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModelError(f"not an http(s) URL for an OpenAI-compatible server: {base_url!r} "
                         "(expected e.g. http://127.0.0.1:8000/v1)")
    if parts.path in ("", "/"):
        url += "/v1"
    return url


def parse_retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_message(response: httpx.Response) -> str:
    """The server's own explanation of an error response, as plain text."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:2000] or response.reason_phrase
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            for key in ("message", "detail", "msg"):
                if err.get(key):
                    return str(err[key])
        elif isinstance(err, str):
            return err
        if "detail" in body:
            return str(body["detail"])
    return str(body)[:2000]


def truncate_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop string; whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def split_tokens(total: int, k: int) -> list[int]:
    """``total`` completion tokens shared out over ``k`` outputs (the sum is preserved)."""
    if k <= 0:
        return []
    base, extra = divmod(max(total, 0), k)
    return [base + (1 if i < extra else 0) for i in range(k)]


class OpenAIModel:
    """A model behind an OpenAI-compatible server at ``base_url`` (e.g. ``http://h:p/v1``).

    ``model`` is the name the server knows the model by; ``None`` asks the server
    (``GET /models``) and takes the first one. ``api_key`` defaults to ``$OPENAI_API_KEY``
    (no ``Authorization`` header when neither is set). ``timeout`` is seconds per HTTP
    request; ``backoff_base``/``backoff_max`` shape the retry delays
    (``min(backoff_max, backoff_base * 2**attempt)``, fully jittered).
    """

    def __init__(self, base_url: str, model: str | None = None, *, api_key: str | None = None,
                 max_concurrency: int = 16, timeout: float = 600.0, connect_timeout: float = 10.0,
                 max_retries: int = 5, backoff_base: float = 0.5, backoff_max: float = 30.0,
                 max_retry_after: float = 120.0, extra_body: dict[str, Any] | None = None) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.base_url = normalize_base_url(base_url)
        self.model = model or None
        self.api_key = api_key if api_key is not None else (os.environ.get("OPENAI_API_KEY")
                                                            or None)
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.extra_body = dict(extra_body or {})
        self.usage = Usage()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._model_lock: asyncio.Lock | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    # -- identity -------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"openai:{self.base_url}#{self.model or '?'}"

    def __repr__(self) -> str:
        return f"OpenAIModel({self.base_url!r}, {self.model!r})"

    # -- public API -----------------------------------------------------------------------------

    def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        """One completion per request, in order (blocking; any thread, any context)."""
        if not requests:
            return []
        return self._run(self._generate(list(requests)))

    async def agenerate(self, requests: list[GenerationRequest]) -> list[Completion]:
        """`generate` for async code: awaits without blocking the caller's event loop."""
        if not requests:
            return []
        return await asyncio.wrap_future(self._submit(self._generate(list(requests))))

    def list_models(self) -> list[str]:
        """The model names the server offers (``GET /models``)."""
        return self._run(self._list_models())

    def close(self) -> None:
        """Close the HTTP client and stop the background event loop (idempotent)."""
        with self._start_lock:
            self._closed = True
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if self._client is not None:
            client, self._client = self._client, None
            try:
                asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(timeout=10)
            except Exception:  # noqa: BLE001 - closing must not raise
                pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

    def __enter__(self) -> OpenAIModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Never block or join here: only ask the background loop (if any) to stop.
        loop = getattr(self, "_loop", None)
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:
                pass

    # -- event loop plumbing --------------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._closed:
                raise ModelError(f"{self.name} is closed")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=run, name="motcoder-openai", daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        loop = self._ensure_loop()
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("OpenAIModel.generate called from its own event loop; "
                               "use agenerate")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        future = self._submit(coro)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    def _get_client(self) -> httpx.AsyncClient:
        # Only ever called on the background loop, so no lock is needed.
        if self._client is None:
            headers = {"Content-Type": "application/json"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            limits = httpx.Limits(max_connections=self.max_concurrency,
                                  max_keepalive_connections=self.max_concurrency)
            # Proxy settings from the environment apply to remote servers, never to loopback.
            host = urlsplit(self.base_url).hostname or ""
            self._client = httpx.AsyncClient(
                headers=headers, limits=limits, trust_env=not is_loopback(host),
                timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout))
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
            self._model_lock = asyncio.Lock()
        return self._client

    # -- HTTP with retries ----------------------------------------------------------------------

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        cap = min(self.backoff_max, self.backoff_base * (2 ** attempt))
        return random.uniform(cap / 2, cap)

    async def _request(self, method: str, path: str,
                       body: dict[str, Any] | None = None) -> dict[str, Any]:
        client = self._get_client()
        assert self._semaphore is not None
        url = f"{self.base_url}{path}"
        last: _Retryable | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.usage.add(retries=1)
                await asyncio.sleep(self._delay(attempt - 1, last.retry_after if last else None))
            try:
                async with self._semaphore:
                    response = await client.request(method, url, json=body)
            except httpx.ConnectError as e:
                last = _Retryable(f"connection failed: {e or type(e).__name__}", connect=True)
                continue
            except httpx.TimeoutException as e:
                last = _Retryable(f"timed out ({type(e).__name__}, timeout {self.timeout} s)")
                continue
            except httpx.TransportError as e:
                last = _Retryable(f"transport error ({type(e).__name__}: {e})")
                continue
            status = response.status_code
            if status in RETRY_STATUSES or status >= 500:
                last = _Retryable(f"HTTP {status}: {error_message(response)}",
                                  retry_after=parse_retry_after(response.headers))
                continue
            if status >= 400:
                hint = ""
                if status in (401, 403):
                    hint = " (check the API key: api_key= or $OPENAI_API_KEY)"
                elif status == 404 and body is not None:
                    hint = f" (is {self.model!r} the model name the server knows?)"
                raise ModelError(f"{method} {url} was rejected with HTTP {status}: "
                                 f"{error_message(response)}{hint}")
            try:
                data = response.json()
            except ValueError:
                last = _Retryable(f"HTTP {status} with a body that is not JSON: "
                                  f"{response.text[:200]!r}")
                continue
            if not isinstance(data, dict):
                raise ModelError(f"{method} {url} answered with unexpected JSON: {str(data)[:200]}")
            return data
        assert last is not None
        n = self.max_retries + 1
        attempts = f"{n} attempt{'s' if n > 1 else ''}"
        if last.connect:
            raise ModelError(
                f"cannot reach the OpenAI-compatible server at {self.base_url} "
                f"({last}; {attempts}). Is it running? Start one with "
                f"`motcoder serve --model SPEC --port PORT` (or vLLM/SGLang/llama.cpp), "
                f"or fix the URL.")
        raise ModelError(f"{method} {url} failed after {attempts}: {last}")

    async def _list_models(self) -> list[str]:
        data = await self._request("GET", "/models")
        return [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]

    async def _resolve_model(self) -> str:
        if self.model is None:
            self._get_client()
            assert self._model_lock is not None
            async with self._model_lock:
                if self.model is None:
                    names = await self._list_models()
                    if not names:
                        raise ModelError(f"the server at {self.base_url} lists no models; "
                                         "pass the model name explicitly")
                    self.model = names[0]
        return self.model

    # -- generation -----------------------------------------------------------------------------

    async def _generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        model = await self._resolve_model()
        tasks = [asyncio.ensure_future(self._complete(model, r)) for r in requests]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    def _body(self, model: str, req: GenerationRequest, n: int, seed: int | None) -> dict:
        body: dict[str, Any] = {"model": model, "n": n, "temperature": req.temperature,
                                "top_p": req.top_p, "max_tokens": req.max_new_tokens}
        if req.messages is not None:
            body["messages"] = req.messages
        else:
            body["prompt"] = req.prompt
        if req.stop:
            body["stop"] = list(req.stop)
        if seed is not None:
            body["seed"] = seed
        body.update(self.extra_body)
        return body

    async def _complete(self, model: str, req: GenerationRequest) -> Completion:
        chat = req.messages is not None
        path = "/chat/completions" if chat else "/completions"
        wanted = 1 if req.greedy else req.n
        outputs: list[Output] = []
        prompt_tokens = 0
        rounds = 0
        while len(outputs) < wanted:
            missing = wanted - len(outputs)
            seed = None if req.seed is None else req.seed + rounds
            data = await self._request("POST", path, self._body(model, req, missing, seed))
            rounds += 1
            got = self._parse(data, chat, req.stop)
            usage = data.get("usage") or {}
            p_tok = int(usage.get("prompt_tokens") or 0)
            c_tok = int(usage.get("completion_tokens") or 0)
            self.usage.add(prompt_tokens=p_tok, completion_tokens=c_tok, requests=1)
            prompt_tokens = prompt_tokens or p_tok
            if not any(o.tokens for o in got):
                for o, t in zip(got, split_tokens(c_tok, len(got)), strict=True):
                    o.tokens = t
            if not got:
                raise ModelError(f"POST {self.base_url}{path} returned no choices")
            outputs.extend(got[:missing])
        if len(outputs) < req.n:  # greedy: one output, repeated
            outputs = outputs + [Output(outputs[0].text, outputs[0].tokens,
                                        outputs[0].finish_reason)
                                 for _ in range(req.n - len(outputs))]
        return Completion(outputs=outputs, prompt_tokens=prompt_tokens)

    def _parse(self, data: dict[str, Any], chat: bool, stop: list[str]) -> list[Output]:
        choices = data.get("choices")
        if not isinstance(choices, list):
            raise ModelError(f"{self.base_url}: a response without 'choices': {str(data)[:300]}")
        choices = sorted((c for c in choices if isinstance(c, dict)),
                         key=lambda c: c.get("index", 0))
        outputs = []
        for c in choices:
            if chat:
                text = (c.get("message") or {}).get("content") or ""
            else:
                text = c.get("text") or ""
            finish = "length" if c.get("finish_reason") == "length" else "stop"
            if stop:
                text, cut = truncate_at_stop(text, stop)
                finish = "stop" if cut else finish
            tokens = c.get("completion_tokens")  # motcoder serve's per-choice extension
            outputs.append(Output(text=text, tokens=int(tokens) if tokens else 0,
                                  finish_reason=finish))
        return outputs
