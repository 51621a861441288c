"""An OpenAI-compatible HTTP server over any `LanguageModel` (``motcoder serve``).

Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions``, ``POST /v1/completions``
(``n``, ``temperature``, ``top_p``, ``max_tokens``, ``stop`` as a string or a list, ``seed``;
a completions ``prompt`` may be a list of strings), ``GET /health`` and ``GET /v1/stats``
(batching counters, and the transformers backend's prompt-prefix reuse). Answers follow the
OpenAI schema; each choice also carries ``completion_tokens`` (an extension the `OpenAIModel`
client reads). Bad requests get HTTP 400 with an OpenAI-style body ``{"error": {"message",
"type", "param", "code"}}``; ``stream=true`` is refused that way too.

Concurrent requests are batched: a background worker takes the first waiting request, gathers
more for up to ``batch_window`` seconds (longer under concurrent load, see `Batcher`) or until
``batch_size`` requests, and makes one ``model.generate(batch)`` call in a dedicated thread.
The model is called by one thread at a time, so backends need not be thread-safe; requests
arriving while it runs form the next batch.

Defaults follow OpenAI: ``temperature`` 1, ``top_p`` 1, ``max_tokens`` 16 for completions and
``default_max_tokens`` (512) for chats. The ``model`` field of a request is not checked: the
server serves exactly one model and reports its name in every answer.

Use `build_app` (an ASGI app), `serve` (blocking), `ServerThread` (a background server on a
free loopback port, for tests and benchmarks) or, from a shell,
``python -m motcoder.models.serve --model SPEC --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from motcoder.models.base import Completion, GenerationRequest, LanguageModel, ModelError
from motcoder.models.openai_backend import is_loopback

log = logging.getLogger("motcoder.serve")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MAX_N = 256


# -- request schemas ----------------------------------------------------------------------------


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="allow")  # unknown OpenAI fields are accepted and ignored

    model: str | None = None
    n: int = 1
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool | None = False
    logprobs: Any = None


class ChatCompletionBody(_Sampling):
    messages: list[dict[str, Any]]
    max_completion_tokens: int | None = None


class CompletionBody(_Sampling):
    prompt: str | list[str]
    echo: bool | None = False


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.param, self.status = message, param, status


def error_body(message: str, kind: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _content_text(content: Any, index: int) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            else:
                raise BadRequest("only text content parts are supported",
                                 f"messages[{index}].content")
        return "".join(parts)
    raise BadRequest("message content must be a string or a list of text parts",
                     f"messages[{index}].content")


def _messages(raw: list[dict[str, Any]]) -> list[dict[str, str]]:
    if not raw:
        raise BadRequest("messages must not be empty", "messages")
    out = []
    for i, m in enumerate(raw):
        role = m.get("role")
        if not isinstance(role, str) or not role:
            raise BadRequest("each message needs a 'role'", f"messages[{i}].role")
        out.append({"role": role, "content": _content_text(m.get("content"), i)})
    return out


def _stop(stop: str | list[str] | None) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else [s for s in stop if s]


def _check_common(body: _Sampling) -> None:
    if body.stream:
        raise BadRequest("stream=true is not supported by motcoder serve; "
                         "send stream=false (the default)", "stream")
    if body.logprobs not in (None, False, 0):
        raise BadRequest("logprobs are not supported by motcoder serve", "logprobs")
    if not 1 <= body.n <= MAX_N:
        raise BadRequest(f"n must be between 1 and {MAX_N}, got {body.n}", "n")


def _request(body: _Sampling, *, messages: list[dict[str, str]] | None = None,
             prompt: str | None = None, max_tokens: int | None) -> GenerationRequest:
    try:
        return GenerationRequest(
            messages=messages, prompt=prompt, n=body.n,
            temperature=1.0 if body.temperature is None else body.temperature,
            top_p=1.0 if body.top_p is None else body.top_p,
            max_new_tokens=max_tokens if max_tokens is not None else 0,
            stop=_stop(body.stop), seed=body.seed)
    except ValueError as e:
        param = next((p for p in ("temperature", "top_p", "n") if p in str(e)), None)
        if "max_new_tokens" in str(e):
            raise BadRequest(f"max_tokens must be at least 1, got {max_tokens}",
                             "max_tokens") from None
        raise BadRequest(str(e), param) from None


# -- batching ----------------------------------------------------------------------------------


@dataclass
class ServerStats:
    """Counters of one server: how requests were batched onto the model."""

    http_requests: int = 0        # generation endpoint calls that reached the model
    requests: int = 0             # GenerationRequests (a list prompt gives several)
    generate_calls: int = 0       # model.generate(...) calls
    max_batch: int = 0
    sequences: int = 0            # outputs produced (sum of n)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = asdict(self)
        d["mean_batch"] = round(self.requests / self.generate_calls, 3) if self.generate_calls \
            else 0.0
        return d


@dataclass
class _Item:
    request: GenerationRequest
    future: asyncio.Future[Completion]


class Batcher:
    """Collects requests on the event loop and feeds them to the model in batches.

    A batch starts with the first waiting request and gathers more for ``batch_window``
    seconds (or until ``batch_size``). Under concurrent load -- more than one request was
    waiting or running at once since the previous batch started -- the window stretches to
    ``LINGER`` (25 %) of the previous generate call, at most ``max_batch_window``, and ends as
    soon as that many requests are in. Clients whose answers just went out resubmit a few ms
    later; without the stretch, a lone early request would take a whole generate call for
    itself (batches of 1, 15, 1, 15, ... instead of 16, 16, ... with 16 closed-loop clients).
    Each request that arrives while a batch gathers keeps it open another ``batch_window``
    (up to ``max_batch_window`` in all), also past that many, so a burst reaching an idle
    server, or larger than the previous load, is taken whole. A lone client never waits more
    than ``batch_window``.
    """

    LINGER = 0.25

    def __init__(self, model: LanguageModel, batch_size: int = 32,
                 batch_window: float = 0.005, max_batch_window: float = 0.1) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model = model
        self.batch_size = batch_size
        self.batch_window = max(0.0, batch_window)
        self.max_batch_window = max(self.batch_window, max_batch_window)
        self._last_seconds = 0.0   # duration of the previous generate call
        self._in_flight = 0        # requests submitted and not yet answered
        self._peak = 0             # most requests in flight since the batch started
        self.stats = ServerStats()
        self._queue: asyncio.Queue[_Item] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="motcoder-model")
        self._task = asyncio.create_task(self._worker(), name="motcoder-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def submit(self, requests: list[GenerationRequest]) -> list[Completion]:
        if self._queue is None:
            raise RuntimeError("the batcher is not running (the app's lifespan was not started)")
        loop = asyncio.get_running_loop()
        items = [_Item(r, loop.create_future()) for r in requests]
        self.stats.http_requests += 1
        for it in items:
            self._queue.put_nowait(it)
        # Counted here, not from the queue: a batch being gathered takes requests out of the
        # queue one by one, and they are still in flight.
        self._in_flight += len(items)
        self._peak = max(self._peak, self._in_flight)
        try:
            return list(await asyncio.gather(*(it.future for it in items)))
        except BaseException:
            for it in items:
                it.future.cancel()
            raise
        finally:
            self._in_flight -= len(items)

    def window(self, concurrency: int) -> float:
        """How long a batch gathers requests, given how many were recently in at once."""
        if concurrency > 1:
            return min(self.max_batch_window,
                       max(self.batch_window, self.LINGER * self._last_seconds))
        return self.batch_window

    async def _collect(self) -> list[_Item]:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        batch = [await self._queue.get()]
        concurrency, self._peak = self._peak, self._queue.qsize() + 1
        start = loop.time()
        deadline = start + self.window(concurrency)
        enough = min(self.batch_size, concurrency) if concurrency > 1 else self.batch_size
        last = start  # when the latest request came in
        while len(batch) < self.batch_size:
            try:
                batch.append(self._queue.get_nowait())
                last = loop.time()
                continue
            except asyncio.QueueEmpty:
                pass
            # Once the expected number is in, wait only while a burst is still arriving: the
            # load may have grown since the previous batch.
            until = deadline if len(batch) < enough else min(deadline, last + self.batch_window)
            remaining = until - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except asyncio.TimeoutError:
                break
            last = loop.time()
            deadline = max(deadline, min(start + self.max_batch_window,
                                         last + self.batch_window))
        return [it for it in batch if not it.future.done()]  # drop abandoned requests

    async def _generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        loop = asyncio.get_running_loop()
        self.stats.generate_calls += 1
        self.stats.max_batch = max(self.stats.max_batch, len(requests))
        t0 = loop.time()
        try:
            results = await loop.run_in_executor(self._executor, self.model.generate, requests)
        finally:
            self._last_seconds = loop.time() - t0
        if len(results) != len(requests):
            raise ModelError(f"{self.model.name} returned {len(results)} completions "
                             f"for {len(requests)} requests")
        return results

    async def _worker(self) -> None:
        while True:
            batch = await self._collect()
            if not batch:
                continue
            try:
                results = await self._generate([it.request for it in batch])
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - reported to the waiting clients
                if len(batch) == 1:
                    self._fail(batch[0], e)
                    continue
                # One bad request must not sink the others: retry them one by one.
                for it in batch:
                    try:
                        (result,) = await self._generate([it.request])
                    except asyncio.CancelledError:
                        raise
                    except Exception as e1:  # noqa: BLE001
                        self._fail(it, e1)
                    else:
                        self._done(it, result)
                continue
            for it, result in zip(batch, results, strict=True):
                self._done(it, result)

    def _done(self, item: _Item, result: Completion) -> None:
        self.stats.requests += 1
        self.stats.sequences += len(result.outputs)
        self.stats.prompt_tokens += result.prompt_tokens
        self.stats.completion_tokens += result.completion_tokens
        if not item.future.done():
            item.future.set_result(result)

    def _fail(self, item: _Item, error: Exception) -> None:
        self.stats.errors += 1
        if not item.future.done():
            item.future.set_exception(error)


# -- the app -----------------------------------------------------------------------------------


def _postprocess(text: str, stop: list[str]) -> tuple[str, bool]:
    """Defensive server-side stop handling (in case a backend ignored a stop string)."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def _choices(completions: list[Completion], stops: list[list[str]], chat: bool
             ) -> tuple[list[dict[str, Any]], int, int]:
    choices: list[dict[str, Any]] = []
    prompt_tokens = completion_tokens = 0
    for completion, stop in zip(completions, stops, strict=True):
        prompt_tokens += completion.prompt_tokens
        for out in completion.outputs:
            text, cut = _postprocess(out.text, stop)
            finish = "stop" if cut else (out.finish_reason or "stop")
            choice: dict[str, Any] = {"index": len(choices)}
            if chat:
                choice["message"] = {"role": "assistant", "content": text}
            else:
                choice["text"] = text
            choice.update({"logprobs": None, "finish_reason": finish,
                           "completion_tokens": out.tokens})
            completion_tokens += out.tokens
            choices.append(choice)
    return choices, prompt_tokens, completion_tokens


def build_app(model: LanguageModel, *, batch_size: int = 32, batch_window: float = 0.005,
              max_batch_window: float = 0.1, served_model_name: str | None = None,
              default_max_tokens: int = 512) -> FastAPI:
    """An ASGI app serving ``model`` with the OpenAI API (see the module docstring and
    `Batcher` for the batching parameters)."""
    name = served_model_name or getattr(model, "name", None) or "motcoder"
    batcher = Batcher(model, batch_size=batch_size, batch_window=batch_window,
                      max_batch_window=max_batch_window)
    created = int(time.time())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(title="motcoder serve", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.batcher = batcher
    app.state.model_name = name

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        param = None
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p != "body"]
            param = param or (".".join(loc) or None)
            problems.append(f"{'.'.join(loc) or 'body'}: {err.get('msg', 'invalid')}")
        return JSONResponse(error_body("invalid request: " + "; ".join(problems), param=param),
                            status_code=400)

    @app.exception_handler(BadRequest)
    async def _bad(request: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse(error_body(exc.message, param=exc.param), status_code=exc.status)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(f"{type(exc).__name__}: {exc}", kind="server_error"),
                            status_code=500)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [
            {"id": name, "object": "model", "created": created, "owned_by": "motcoder"}]}

    @app.get("/v1/stats")
    async def stats() -> dict[str, Any]:
        out = batcher.stats.to_dict()
        prefix = getattr(model, "prefix_cache", None)  # the transformers backend's reuse
        if prefix is not None:
            out["prefix_cache"] = prefix.stats.to_dict()
        return out

    async def run(requests: list[GenerationRequest], chat: bool) -> Any:
        try:
            completions = await batcher.submit(requests)
        except Exception as e:  # noqa: BLE001 - the model failed: a 500 the client can read
            log.warning("generation failed: %s: %s", type(e).__name__, e)
            return JSONResponse(error_body(f"{type(e).__name__}: {e}", kind="server_error"),
                                status_code=500)
        choices, p_tok, c_tok = _choices(completions, [r.stop for r in requests], chat)
        return {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": name,
            "choices": choices,
            "usage": {"prompt_tokens": p_tok, "completion_tokens": c_tok,
                      "total_tokens": p_tok + c_tok},
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionBody) -> Any:
        _check_common(body)
        max_tokens = body.max_completion_tokens if body.max_completion_tokens is not None \
            else body.max_tokens
        request = _request(body, messages=_messages(body.messages),
                           max_tokens=default_max_tokens if max_tokens is None else max_tokens)
        return await run([request], chat=True)

    @app.post("/v1/completions")
    async def completions(body: CompletionBody) -> Any:
        _check_common(body)
        if body.echo:
            raise BadRequest("echo=true is not supported by motcoder serve", "echo")
        prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        if not prompts:
            raise BadRequest("prompt must not be an empty list", "prompt")
        max_tokens = 16 if body.max_tokens is None else body.max_tokens
        requests = [_request(body, prompt=p, max_tokens=max_tokens) for p in prompts]
        return await run(requests, chat=False)

    return app


# -- running it --------------------------------------------------------------------------------


def _warn_if_public(host: str) -> None:
    if not is_loopback(host):
        print(f"warning: motcoder serve is listening on {host}, not loopback: anyone who can "
              "reach this address can use the model (there is no authentication)",
              file=sys.stderr)


def serve(model: LanguageModel, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
          batch_size: int = 32, batch_window: float = 0.005, max_batch_window: float = 0.1,
          served_model_name: str | None = None, log_level: str = "info") -> None:
    """Serve ``model`` on ``http://host:port/v1`` until interrupted (blocking)."""
    import uvicorn

    _warn_if_public(host)
    app = build_app(model, batch_size=batch_size, batch_window=batch_window,
                    max_batch_window=max_batch_window, served_model_name=served_model_name)
    uvicorn.run(app, host=host, port=port, log_level=log_level)


class ServerThread:
    """A uvicorn server in a background thread, on a free port by default.

    ``ServerThread(model)`` serves a `LanguageModel` through `build_app`; ``ServerThread(app=...)``
    serves any ASGI app. Use as a context manager, or call `start` / `stop`::

        with ServerThread(model) as server:
            client = OpenAIModel(server.base_url)
    """

    def __init__(self, model: LanguageModel | None = None, *, app: Any = None,
                 host: str = DEFAULT_HOST, port: int = 0, batch_size: int = 32,
                 batch_window: float = 0.005, max_batch_window: float = 0.1,
                 served_model_name: str | None = None,
                 log_level: str = "warning", startup_timeout: float = 30.0) -> None:
        if (model is None) == (app is None):
            raise ValueError("pass either a model or an app")
        self.app = app if app is not None else build_app(
            model, batch_size=batch_size, batch_window=batch_window,  # type: ignore[arg-type]
            max_batch_window=max_batch_window, served_model_name=served_model_name)
        self.host = host
        self.port = port
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``.../v1``)."""
        return f"{self.url}/v1"

    @property
    def stats(self) -> ServerStats:
        batcher = getattr(getattr(self.app, "state", None), "batcher", None)
        if batcher is None:
            raise AttributeError("this server does not serve a model through build_app")
        return batcher.stats

    def start(self) -> ServerThread:
        import uvicorn

        _warn_if_public(self.host)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as e:
            sock.close()
            raise ModelError(f"cannot listen on {self.host}:{self.port}: {e}") from e
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level=self.log_level, lifespan="on",
                                access_log=False, timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)

        def run() -> None:
            try:
                self._server.run(sockets=[sock])
            except BaseException as e:  # noqa: BLE001 - reported by start()
                self._error = e
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name=f"motcoder-serve-{self.port}",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ModelError(f"the server on {self.url} did not start"
                                 + (f": {self._error}" if self._error else ""))
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_spec(spec: str | None = "embedded", host: str = DEFAULT_HOST,
               port: int = DEFAULT_PORT, *, batch_size: int = 32, batch_window: float = 0.005,
               max_batch_window: float = 0.1, served_model_name: str | None = None,
               log_level: str = "info",
               **load_options: Any) -> None:
    """Load the model a spec names (`load_model`, with ``load_options`` such as device, dtype,
    threads) and `serve` it until interrupted; the model is closed afterwards."""
    from motcoder.models.registry import load_model

    model = load_model(spec, **load_options)
    try:
        serve(model, host, port, batch_size=batch_size, batch_window=batch_window,
              max_batch_window=max_batch_window,
              served_model_name=served_model_name, log_level=log_level)
    finally:
        model.close()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m motcoder.models.serve --model SPEC --port N``."""
    parser = argparse.ArgumentParser(
        prog="python -m motcoder.models.serve",
        description="Serve a model through an OpenAI-compatible HTTP API "
                    "(GET /v1/models, POST /v1/chat/completions, POST /v1/completions).")
    parser.add_argument("--model", default="embedded",
                        help="model spec: embedded, hf:..., gguf:..., openai:URL#name "
                             "(default: embedded)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}, loopback only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--batch-size", type=int, default=32,
                        help="most requests per model.generate call (default 32)")
    parser.add_argument("--batch-window-ms", type=float, default=5.0,
                        help="how long to gather concurrent requests into a batch (default 5)")
    parser.add_argument("--max-batch-window-ms", type=float, default=100.0,
                        help="longest gathering window while clients are concurrent "
                             "(default 100; see Batcher)")
    parser.add_argument("--served-model-name", default=None,
                        help="the model name in /v1/models and answers (default: the model's)")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--dtype", default=None, help="auto | float32 | bfloat16 | float16")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-prefix-cache", action="store_true",
                        help="compute every prompt in full (transformers backend)")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    try:
        serve_spec(args.model, args.host, args.port, batch_size=args.batch_size,
                   batch_window=args.batch_window_ms / 1000,
                   max_batch_window=args.max_batch_window_ms / 1000,
                   served_model_name=args.served_model_name, log_level=args.log_level,
                   device=args.device, dtype=args.dtype, threads=args.threads,
                   prefix_cache=False if args.no_prefix_cache else None)
    except ModelError as e:
        parser.exit(2, f"error: {e}\n")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
