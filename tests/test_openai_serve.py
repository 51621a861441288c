"""`motcoder serve` and the `openai` backend, over real HTTP on loopback.

Fast tests use a small scripted model or small scripted servers (real uvicorn servers on free
loopback ports: flaky, rate-limiting, slow, n-ignoring, dead). The e2e tests run the real
embedded SmolLM2 model behind `motcoder serve` and talk to it with `OpenAIModel`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from motcoder.models.base import Completion, GenerationRequest, LanguageModel, ModelError, Output
from motcoder.models.openai_backend import OpenAIModel, normalize_base_url, parse_retry_after
from motcoder.models.serve import Batcher, ServerThread, build_app

# -- helpers ----------------------------------------------------------------------------------


class ScriptedModel:
    """Echoes prompts; records each generate call's batch size; sleeps to let batches form."""

    name = "scripted"

    def __init__(self, delay: float = 0.05, fail_on: str | None = None) -> None:
        self.delay = delay
        self.fail_on = fail_on
        self.batches: list[int] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self.batches.append(len(requests))
            time.sleep(self.delay)
            out = []
            for r in requests:
                text = r.prompt if r.prompt is not None else r.messages[-1]["content"]
                if self.fail_on and self.fail_on in text:
                    raise RuntimeError(f"cannot do {text!r}")
                outs = [Output(f"{text}|{i}|t={r.temperature}|s={r.seed}|m={r.max_new_tokens}",
                               tokens=i + 1, finish_reason="length") for i in range(r.n)]
                out.append(Completion(outs, prompt_tokens=len(text)))
            return out
        finally:
            with self._lock:
                self.active -= 1

    def close(self) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chat(text: str, **kw: Any) -> GenerationRequest:
    return GenerationRequest(messages=[{"role": "user", "content": text}], **kw)


def canned(body: dict[str, Any], text: str = "ok", k: int | None = None) -> dict[str, Any]:
    """An OpenAI-style answer to ``body`` with ``k`` (default: n) choices."""
    k = body.get("n", 1) if k is None else k
    chat_ = "messages" in body
    choices = [({"index": i, "message": {"role": "assistant", "content": f"{text}{i}"}}
                if chat_ else {"index": i, "text": f"{text}{i}"}) | {"finish_reason": "stop"}
               for i in range(k)]
    return {"id": "x", "object": "chat.completion" if chat_ else "text_completion",
            "created": 0, "model": body.get("model"), "choices": choices,
            "usage": {"prompt_tokens": 7, "completion_tokens": 2 * k, "total_tokens": 7 + 2 * k}}


@pytest.fixture(scope="module")
def scripted_server():
    model = ScriptedModel()
    with ServerThread(model, batch_window=0.01) as server:
        yield server, model


# -- the server, with a scripted model ---------------------------------------------------------


def test_models_health_and_stats(scripted_server):
    server, _ = scripted_server
    r = httpx.get(f"{server.base_url}/models")
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list" and body["data"][0]["id"] == "scripted"
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    assert "generate_calls" in httpx.get(f"{server.base_url}/stats").json()


def test_chat_completion_schema(scripted_server):
    server, _ = scripted_server
    r = httpx.post(f"{server.base_url}/chat/completions", json={
        "model": "whatever", "messages": [{"role": "user", "content": "hello"}],
        "n": 2, "temperature": 0.7, "top_p": 0.9, "max_tokens": 5, "seed": 3, "stop": "|1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion"
    assert body["model"] == "scripted" and isinstance(body["created"], int)
    c0, c1 = body["choices"]
    assert c0["index"] == 0 and c0["message"] == {
        "role": "assistant", "content": "hello|0|t=0.7|s=3|m=5"}
    assert c0["finish_reason"] == "length"
    # the stop string is honoured by the server even if a backend ignored it
    assert c1["message"]["content"] == "hello" and c1["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}


def test_completion_defaults_and_list_prompt(scripted_server):
    server, _ = scripted_server
    r = httpx.post(f"{server.base_url}/completions", json={"prompt": ["a", "bb"], "n": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "text_completion"
    # OpenAI defaults: temperature 1, max_tokens 16 for completions; choices are prompt-major
    assert [c["text"] for c in body["choices"]] == [
        "a|0|t=1.0|s=None|m=16", "a|1|t=1.0|s=None|m=16",
        "bb|0|t=1.0|s=None|m=16", "bb|1|t=1.0|s=None|m=16"]
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    assert body["usage"]["prompt_tokens"] == 3
    # content given as text parts
    r = httpx.post(f"{server.base_url}/chat/completions", json={
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x"},
                                                  {"type": "text", "text": "y"}]}]})
    assert r.json()["choices"][0]["message"]["content"].startswith("xy|0|t=1.0|s=None|m=512")


@pytest.mark.parametrize("path,body,param", [
    ("/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stream": True},
     "stream"),
    ("/chat/completions", {"messages": [{"role": "user", "content": "x"}], "n": 0}, "n"),
    ("/chat/completions", {"messages": [{"role": "user", "content": "x"}],
                           "temperature": -1}, "temperature"),
    ("/chat/completions", {"messages": [{"role": "user", "content": "x"}], "top_p": 0},
     "top_p"),
    ("/chat/completions", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
     "max_tokens"),
    ("/chat/completions", {"messages": []}, "messages"),
    ("/chat/completions", {"prompt": "x"}, "messages"),
    ("/chat/completions", {"messages": [{"content": "x"}]}, "messages[0].role"),
    ("/completions", {"prompt": "x", "stop": 5}, "stop"),
    ("/completions", {"prompt": []}, "prompt"),
    ("/completions", {"prompt": "x", "n": "many"}, "n"),
])
def test_bad_requests_get_openai_style_400(scripted_server, path, body, param):
    server, _ = scripted_server
    r = httpx.post(f"{server.base_url}{path}", json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["message"]
    assert err["param"] is not None and err["param"].startswith(param)


def test_body_that_is_not_json_is_a_400(scripted_server):
    server, _ = scripted_server
    r = httpx.post(f"{server.base_url}/completions", content=b"{nope",
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()


def test_concurrent_requests_are_batched_one_generate_at_a_time():
    model = ScriptedModel(delay=0.1)
    with ServerThread(model, batch_window=0.01) as server:
        def one(i: int) -> str:
            r = httpx.post(f"{server.base_url}/completions", json={"prompt": f"p{i}"},
                           timeout=30)
            return r.json()["choices"][0]["text"]

        threads_out: list[str] = [""] * 12
        threads = [threading.Thread(target=lambda i=i: threads_out.__setitem__(i, one(i)))
                   for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [t.split("|")[0] for t in threads_out] == [f"p{i}" for i in range(12)]
        stats = server.stats
        assert stats.requests == 12 and stats.http_requests == 12
        assert stats.generate_calls == len(model.batches) < 12
        assert stats.max_batch > 1
        assert model.max_active == 1  # never two generate calls at once


def test_batch_size_caps_a_batch():
    model = ScriptedModel(delay=0.05)
    with ServerThread(model, batch_size=3, batch_window=0.05) as server:
        r = httpx.post(f"{server.base_url}/completions", json={"prompt": list("abcdefg")})
        assert len(r.json()["choices"]) == 7
    assert max(model.batches) <= 3 and sum(model.batches) == 7


def test_batch_window_stretches_only_under_concurrent_load():
    b = Batcher(ScriptedModel(), batch_window=0.005, max_batch_window=0.1)
    assert b.window(1) == 0.005                     # nothing known yet
    b._last_seconds = 2.0
    assert b.window(1) == 0.005                     # a lone client: no added latency
    b._last_seconds = 0.2
    assert b.window(8) == pytest.approx(0.05)       # 25 % of the last generate call
    b._last_seconds = 5.0
    assert b.window(8) == 0.1                       # capped
    b._last_seconds = 0.01
    assert b.window(8) == 0.005                     # never below the base window


def batches_of(model: ScriptedModel, scenario: Any, **options: Any) -> list[int]:
    """Run ``scenario(batcher)`` against a started `Batcher` over ``model``; the sizes of the
    batches it made."""
    async def run() -> list[int]:
        b = Batcher(model, **options)
        await b.start()
        try:
            await scenario(b)
        finally:
            await b.stop()
        return model.batches

    return asyncio.run(run())


async def send_burst(batcher: Any, count: int, gap: float) -> None:
    """Submit ``count`` one-request calls ``gap`` seconds apart and wait for all answers."""
    tasks = []
    for i in range(count):
        tasks.append(asyncio.create_task(batcher.submit([GenerationRequest(prompt=f"p{i}")])))
        await asyncio.sleep(gap)
    await asyncio.gather(*tasks)


def test_a_burst_reaching_an_idle_server_is_taken_whole():
    """Requests 10 ms apart, each well within reach of the one before: a fixed 25 ms window
    would split them; the window that each arrival keeps open takes all eight."""
    async def burst(b: Batcher) -> None:
        await send_burst(b, 8, gap=0.01)

    assert batches_of(ScriptedModel(delay=0.01), burst,
                      batch_window=0.025, max_batch_window=0.5) == [8]


def test_requests_gathered_one_by_one_count_as_concurrent_load():
    """8 closed-loop clients whose next requests come back spread over ~50 ms (wider than the
    5 ms window): the requests a batch took in one at a time count as in flight, so the next
    batch waits for all eight instead of closing at the first two."""
    async def rounds(b: Batcher) -> None:
        async def client(i: int) -> None:
            for r in range(4):
                await b.submit([GenerationRequest(prompt=f"c{i}r{r}")])
                await asyncio.sleep(0.007 * i)

        await asyncio.gather(*(client(i) for i in range(8)))

    assert batches_of(ScriptedModel(delay=0.4), rounds, batch_size=8, batch_window=0.005,
                      max_batch_window=0.1) == [8, 8, 8, 8]


def test_a_burst_larger_than_the_previous_load_is_taken_whole():
    """Two clients, then a burst of eight requests 2 ms apart: the batch does not close at
    the two requests the previous load suggested while the burst is still arriving."""
    model = ScriptedModel(delay=0.1)

    async def load(b: Batcher) -> None:
        async def client(i: int) -> None:
            for r in range(2):
                await b.submit([GenerationRequest(prompt=f"c{i}r{r}")])

        await asyncio.gather(client(0), client(1))
        model.batches.clear()
        await send_burst(b, 8, gap=0.002)

    assert batches_of(model, load, batch_size=8, batch_window=0.02,
                      max_batch_window=0.5) == [8]


def test_closed_loop_clients_fill_whole_batches():
    """16 clients, each sending its next request when its answer arrives: after warm-up the
    server runs (nearly) full batches of 16, not 1, 15, 1, 15, ..."""
    model = ScriptedModel(delay=0.4)
    with ServerThread(model, batch_size=16, batch_window=0.005, max_batch_window=0.1) as server:
        with OpenAIModel(server.base_url, "scripted", max_concurrency=16) as m:
            m.generate([GenerationRequest(prompt=f"w{i}") for i in range(16)])
            model.batches.clear()
            m.generate([GenerationRequest(prompt=f"p{i}") for i in range(48)])
    # fixed 5 ms windows give [1, 15, 1, 15, 1, 15]; allow one straggler batch on a busy CPU
    assert len(model.batches) <= 5, model.batches


def test_one_failing_request_does_not_sink_its_batch():
    model = ScriptedModel(delay=0.05, fail_on="bad")
    with ServerThread(model, batch_window=0.05) as server:
        results: dict[str, httpx.Response] = {}

        def one(p: str) -> None:
            results[p] = httpx.post(f"{server.base_url}/completions", json={"prompt": p})

        threads = [threading.Thread(target=one, args=(p,)) for p in ("good1", "bad", "good2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results["good1"].status_code == results["good2"].status_code == 200
    assert results["bad"].status_code == 500
    err = results["bad"].json()["error"]
    assert err["type"] == "server_error" and "cannot do 'bad'" in err["message"]


# -- the client, against scripted servers -----------------------------------------------------


def test_client_against_scripted_serve(scripted_server):
    server, _ = scripted_server
    with OpenAIModel(server.url, None, api_key="") as m:  # model name from /v1/models
        assert isinstance(m, LanguageModel)
        out = m.generate([chat("hi", n=3, temperature=0.5, seed=1, max_new_tokens=9),
                          GenerationRequest(prompt="raw", stop=["|"], max_new_tokens=4)])
        assert m.model == "scripted" and m.name.endswith("#scripted")
        assert out[0].texts == [f"hi|{i}|t=0.5|s=1|m=9" for i in range(3)]
        assert [o.tokens for o in out[0].outputs] == [1, 2, 3]  # per-choice token counts
        assert out[0].prompt_tokens == 2 and out[0].outputs[0].finish_reason == "length"
        assert out[1].texts == ["raw"] and out[1].outputs[0].finish_reason == "stop"
        assert m.usage.prompt_tokens == 5 and m.usage.completion_tokens == 7
        assert m.usage.requests == 2
        # greedy with n > 1: one output asked for, repeated
        (g,) = m.generate([chat("g", n=4, temperature=0)])
        assert len(g.texts) == 4 and len(set(g.texts)) == 1 and m.usage.requests == 3
        assert m.generate([]) == []


def test_client_is_usable_from_threads_and_event_loops(scripted_server):
    server, _ = scripted_server
    with OpenAIModel(server.base_url, "scripted", max_concurrency=4) as m:
        results: dict[int, str] = {}

        def worker(i: int) -> None:
            results[i] = m.generate([GenerationRequest(prompt=f"t{i}")])[0].texts[0]

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == list(range(6))
        assert all(results[i].startswith(f"t{i}|") for i in range(6))

        async def inside_a_loop() -> tuple[str, str]:
            sync = m.generate([GenerationRequest(prompt="sync")])[0].texts[0]
            asy = (await m.agenerate([GenerationRequest(prompt="async")]))[0].texts[0]
            return sync, asy

        sync, asy = asyncio.run(inside_a_loop())
        assert sync.startswith("sync|") and asy.startswith("async|")


class ScriptedServer:
    """A loopback server answering POSTs through ``handler(count, body, request)``."""

    def __init__(self, handler) -> None:
        self.count = 0
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        app = FastAPI()

        @app.post("/v1/{path:path}")
        async def anything(path: str, request: Request):
            self.count += 1
            body = await request.json()
            self.bodies.append(body)
            self.headers.append(dict(request.headers))
            return await handler(self.count, body, request)

        self.thread = ServerThread(app=app)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.stop()


def test_429_honours_retry_after():
    async def handler(count, body, request):
        if count == 1:
            return JSONResponse({"error": {"message": "slow down"}}, status_code=429,
                                headers={"Retry-After": "1"})
        return canned(body)

    with ScriptedServer(handler) as s, OpenAIModel(s.thread.base_url, "m", backoff_base=0.001,
                                                   max_retries=2) as m:
        t0 = time.monotonic()
        (c,) = m.generate([chat("x")])
        elapsed = time.monotonic() - t0
    assert c.texts == ["ok0"] and s.count == 2 and m.usage.retries == 1
    assert 0.9 <= elapsed < 5


def test_timeouts_are_retried():
    async def handler(count, body, request):
        if count == 1:
            await asyncio.sleep(0.8)
        return canned(body)

    with ScriptedServer(handler) as s, OpenAIModel(s.thread.base_url, "m", timeout=0.2,
                                                   backoff_base=0.01, max_retries=2) as m:
        (c,) = m.generate([GenerationRequest(prompt="x")])
    assert c.texts == ["ok0"] and s.count == 2 and m.usage.retries == 1


def test_persistent_5xx_gives_up_with_the_servers_message():
    async def handler(count, body, request):
        return JSONResponse({"error": {"message": "engine on fire"}}, status_code=503)

    with ScriptedServer(handler) as s, OpenAIModel(s.thread.base_url, "m", backoff_base=0.01,
                                                   max_retries=2) as m:
        with pytest.raises(ModelError, match=r"3 attempts.*HTTP 503: engine on fire"):
            m.generate([chat("x")])
    assert s.count == 3


def test_4xx_is_not_retried_and_carries_the_servers_message():
    async def handler(count, body, request):
        return JSONResponse({"error": {"message": "max_tokens is too large: 99999"}},
                            status_code=400)

    with ScriptedServer(handler) as s, OpenAIModel(s.thread.base_url, "m",
                                                   backoff_base=0.01) as m:
        with pytest.raises(ModelError, match=r"HTTP 400: max_tokens is too large: 99999"):
            m.generate([chat("x")])
    assert s.count == 1 and m.usage.retries == 0


def test_fewer_choices_than_n_are_made_up_with_shifted_seeds():
    async def handler(count, body, request):
        return canned(body, text=f"r{count}-", k=1)  # ignores n

    with ScriptedServer(handler) as s, OpenAIModel(s.thread.base_url, "m",
                                                   api_key="sk-test") as m:
        (c,) = m.generate([chat("x", n=3, temperature=1.0, seed=10, stop=["zz"])])
    assert sorted(c.texts) == ["r1-0", "r2-0", "r3-0"]
    assert [b["n"] for b in s.bodies] == [3, 2, 1]
    assert [b["seed"] for b in s.bodies] == [10, 11, 12]
    assert all(b["stop"] == ["zz"] and b["max_tokens"] == 512 for b in s.bodies)
    assert all(h["authorization"] == "Bearer sk-test" for h in s.headers)
    assert m.usage.prompt_tokens == 21 and m.usage.completion_tokens == 6
    assert c.prompt_tokens == 7 and [o.tokens for o in c.outputs] == [2, 2, 2]


def test_api_key_defaults_to_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert OpenAIModel("http://127.0.0.1:1/v1", "m").api_key == "sk-env"
    monkeypatch.delenv("OPENAI_API_KEY")
    assert OpenAIModel("http://127.0.0.1:1/v1", "m").api_key is None


def test_dead_server_is_a_clear_model_error_quickly():
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    with OpenAIModel(url, "m", max_retries=2, backoff_base=0.01) as m:
        t0 = time.monotonic()
        with pytest.raises(ModelError) as info:
            m.generate([chat("x")])
        assert time.monotonic() - t0 < 5
    message = str(info.value)
    assert url in message and "motcoder serve" in message and "3 attempts" in message


def test_url_and_retry_after_parsing():
    assert normalize_base_url("http://h:1") == "http://h:1/v1"
    assert normalize_base_url("http://h:1/v1/") == "http://h:1/v1"
    assert normalize_base_url("https://api.example.com/openai/v1") == \
        "https://api.example.com/openai/v1"
    with pytest.raises(ModelError, match="not an http"):
        normalize_base_url("localhost:8000")
    assert parse_retry_after(httpx.Headers({"retry-after": "2"})) == 2.0
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    assert parse_retry_after(httpx.Headers(
        {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}), now=1445412470.0) == 10.0
    assert parse_retry_after(httpx.Headers({})) is None


# -- end to end: the real embedded model behind motcoder serve --------------------------------


def _load_embedded() -> LanguageModel:
    from motcoder.models.registry import load_model

    return load_model("embedded")


@pytest.fixture(scope="session")
def embedded_server():
    model = _load_embedded()
    with ServerThread(model, batch_window=0.01) as server:
        yield server
    model.close()


COUNT_PROMPT = "1, 2, 3, 4, 5, 6,"


@pytest.mark.e2e
def test_e2e_models_chat_n_samples(embedded_server):
    r = httpx.get(f"{embedded_server.base_url}/models")
    assert r.status_code == 200 and len(r.json()["data"]) == 1
    with OpenAIModel(embedded_server.base_url, None) as m:
        (c,) = m.generate([chat("Write a Python function that adds two numbers.", n=3,
                                temperature=1.0, seed=0, max_new_tokens=6)])
        assert len(c.outputs) == 3 and all(o.text for o in c.outputs)
        assert all(0 < o.tokens <= 6 for o in c.outputs) and c.prompt_tokens > 0
        assert m.usage.prompt_tokens > 0 and m.usage.completion_tokens == c.completion_tokens


@pytest.mark.e2e
def test_e2e_raw_completion_and_stop_strings(embedded_server):
    with OpenAIModel(embedded_server.base_url, None) as m:
        free, stopped = m.generate([
            GenerationRequest(prompt=COUNT_PROMPT, max_new_tokens=8),
            GenerationRequest(prompt=COUNT_PROMPT, max_new_tokens=8, stop=[","])])
    text = free.texts[0]
    assert "," in text, f"the model did not continue the count: {text!r}"
    assert stopped.texts[0] == text[:text.index(",")]
    assert stopped.outputs[0].finish_reason == "stop"
    # the same through raw HTTP: the server itself cuts at the stop string
    r = httpx.post(f"{embedded_server.base_url}/completions", json={
        "prompt": COUNT_PROMPT, "max_tokens": 8, "temperature": 0, "stop": ","}, timeout=60)
    assert r.json()["choices"][0]["text"] == stopped.texts[0]


@pytest.mark.e2e
def test_e2e_concurrent_clients_are_batched(embedded_server):
    before = embedded_server.stats.generate_calls, embedded_server.stats.requests
    with OpenAIModel(embedded_server.base_url, None, max_concurrency=8) as m:
        outs = m.generate([GenerationRequest(prompt=f"{i} + {i} =", max_new_tokens=4)
                           for i in range(8)])
    assert len(outs) == 8 and all(len(c.outputs) == 1 for c in outs)
    calls = embedded_server.stats.generate_calls - before[0]
    served = embedded_server.stats.requests - before[1]
    assert served == 8 and calls < 8, f"{calls} generate calls for 8 requests"
    assert httpx.get(f"{embedded_server.base_url}/stats").json()["max_batch"] > 1


@pytest.mark.e2e
def test_e2e_flaky_proxy_500_then_recovers(embedded_server):
    """A real loopback proxy fails its first two requests, then forwards to motcoder serve."""
    upstream = embedded_server.base_url

    async def handler(count, body, request):
        if count <= 2:
            return JSONResponse({"error": {"message": "warming up"}}, status_code=500)
        path = request.url.path.removeprefix("/v1")
        async with httpx.AsyncClient(timeout=60) as client:
            r = await client.post(f"{upstream}{path}", json=body)
        return JSONResponse(r.json(), status_code=r.status_code)

    with ScriptedServer(handler) as s, OpenAIModel(s.thread.base_url, "smol",
                                                   max_retries=3, backoff_base=0.01) as m:
        (c,) = m.generate([GenerationRequest(prompt=COUNT_PROMPT, max_new_tokens=4)])
    assert c.texts[0] and s.count == 3 and m.usage.retries == 2 and m.usage.requests == 1


@pytest.mark.e2e
def test_e2e_serve_as_a_subprocess(embedded_server):
    """``python -m motcoder.models.serve`` in its own process. To stay fast it serves an
    ``openai:`` spec pointing at the session's embedded server: a serve in front of a serve."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "motcoder.models.serve", "--model",
         f"openai:{embedded_server.base_url}", "--port", str(port),
         "--served-model-name", "smol", "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"serve exited early:\n{proc.stdout.read()}"
            assert time.monotonic() < deadline, "serve did not come up within 60 s"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        with OpenAIModel(f"http://127.0.0.1:{port}/v1", None) as m:
            assert m.list_models() == ["smol"]
            (c,) = m.generate([GenerationRequest(prompt=COUNT_PROMPT, max_new_tokens=3)])
        assert c.texts[0] and c.outputs[0].tokens > 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_build_app_is_an_asgi_app():
    app = build_app(ScriptedModel())
    assert callable(app) and app.state.model_name == "scripted"
