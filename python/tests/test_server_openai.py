"""`tokenmill serve` through the official `openai` client: shapes, streaming, sampling controls,
logprobs, usage, prefix caching, batching invariance and API keys, on the tiny llama fixture
(384-token vocabulary, 256-token context, ChatML template)."""
import concurrent.futures

import pytest

from test_server_support import TINY_MODEL_NAME, ServerProcess

openai = pytest.importorskip("openai")

API_KEY = "sk-test-key"
CHAT = [{"role": "user", "content": "Tell me a story about a cat."}]
# Long enough to fill several 16-token KV blocks, so a repeat is served from the prefix cache.
LONG_PROMPT = "The quick brown fox jumps over the lazy dog. " * 6
NO_EOS = {"ignore_eos": True}  # the random-weight model may pick EOS at any step


@pytest.fixture(scope="module")
def server(tokenmill_bin, fixtures_dir):
    s = ServerProcess(tokenmill_bin, fixtures_dir / "models" / "llama" / "model.gguf", "--api-key", API_KEY)
    yield s
    s.close()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=API_KEY, max_retries=0, timeout=60)


def greedy_completion(client, prompt, max_tokens=24, **kw):
    return client.completions.create(model=TINY_MODEL_NAME, prompt=prompt, max_tokens=max_tokens, temperature=0,
                                     extra_body=NO_EOS, **kw)


def test_models_list(client, server):
    models = client.models.list()
    assert [m.id for m in models.data] == [TINY_MODEL_NAME]
    assert models.data[0].owned_by == "tokenmill"
    assert models.data[0].model_extra["max_model_len"] == 256
    assert client.models.retrieve(TINY_MODEL_NAME).id == TINY_MODEL_NAME


def test_chat_completion_shape(client):
    r = client.chat.completions.create(model=TINY_MODEL_NAME, messages=CHAT, max_tokens=16, temperature=0)
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-") and r.model == TINY_MODEL_NAME
    assert r.created > 0 and len(r.choices) == 1
    choice = r.choices[0]
    assert choice.index == 0 and choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length") and choice.logprobs is None
    u = r.usage
    assert u.prompt_tokens > 0 and 0 < u.completion_tokens <= 16
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens
    assert u.prompt_tokens_details.cached_tokens >= 0


def test_chat_stream_equals_whole_response(client):
    args = dict(model=TINY_MODEL_NAME, messages=CHAT, max_tokens=20, temperature=0, extra_body=NO_EOS)
    whole = client.chat.completions.create(**args)
    chunks = list(client.chat.completions.create(stream=True, **args))
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[0].choices[0].delta.content == ""
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]


def test_completion_stream_equals_whole_response(client):
    whole = greedy_completion(client, "Once upon a time", max_tokens=20)
    assert whole.object == "text_completion" and whole.id.startswith("cmpl-")
    assert whole.choices[0].finish_reason == "length" and whole.usage.completion_tokens == 20
    chunks = list(client.completions.create(model=TINY_MODEL_NAME, prompt="Once upon a time", max_tokens=20,
                                            temperature=0, extra_body=NO_EOS, stream=True))
    assert all(c.object == "text_completion" for c in chunks)
    assert "".join(c.choices[0].text for c in chunks) == whole.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"


def test_token_id_prompt(client):
    r = greedy_completion(client, [1, 20, 30, 40], max_tokens=4)
    assert r.usage.prompt_tokens == 4 and r.usage.completion_tokens == 4


def test_n_choices(client):
    r = client.completions.create(model=TINY_MODEL_NAME, prompt="Hello", n=2, max_tokens=8, temperature=1.0, seed=3,
                                  extra_body=NO_EOS)
    assert sorted(c.index for c in r.choices) == [0, 1]
    assert r.usage.completion_tokens == 16
    streamed = list(client.completions.create(model=TINY_MODEL_NAME, prompt="Hello", n=2, max_tokens=8,
                                              temperature=1.0, seed=3, extra_body=NO_EOS, stream=True))
    by_index = {0: "", 1: ""}
    for c in streamed:
        by_index[c.choices[0].index] += c.choices[0].text
    assert by_index == {c.index: c.text for c in r.choices}


def test_stop_string_cuts_the_text(client):
    full = greedy_completion(client, "Once upon a time", max_tokens=40).choices[0].text
    stop = full[len(full) // 2: len(full) // 2 + 2]
    assert stop, full
    r = greedy_completion(client, "Once upon a time", max_tokens=40, stop=[stop])
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].text == full[: full.index(stop)]


def test_max_tokens_gives_length(client):
    r = greedy_completion(client, "Hi", max_tokens=5)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 5


def test_seed_reproducibility(client):
    def sample(seed):
        return client.completions.create(model=TINY_MODEL_NAME, prompt="Hello", max_tokens=24, temperature=1.0,
                                         seed=seed, extra_body=NO_EOS).choices[0].text
    first = sample(1234)
    assert sample(1234) == first
    assert any(sample(s) != first for s in (1, 2, 3))


def test_completion_logprobs_shape(client):
    r = greedy_completion(client, "Hello", max_tokens=6, logprobs=3)
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 6
    assert all(x <= 0 for x in lp.token_logprobs)
    assert all(1 <= len(top) <= 3 for top in lp.top_logprobs)
    assert lp.text_offset == sorted(lp.text_offset)
    # Greedy: the chosen token is the most likely one.
    for chosen, top in zip(lp.token_logprobs, lp.top_logprobs):
        assert chosen == pytest.approx(max(top.values()), abs=1e-4)


def test_chat_logprobs_shape(client):
    r = client.chat.completions.create(model=TINY_MODEL_NAME, messages=CHAT, max_tokens=6, temperature=0,
                                       logprobs=True, top_logprobs=2, extra_body=NO_EOS)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens == 6
    for entry in content:
        assert isinstance(entry.token, str) and entry.logprob <= 0 and isinstance(entry.bytes, list)
        assert len(entry.top_logprobs) == 2
        assert entry.logprob == pytest.approx(entry.top_logprobs[0].logprob, abs=1e-4)


def test_stream_include_usage(client):
    chunks = list(client.chat.completions.create(model=TINY_MODEL_NAME, messages=CHAT, max_tokens=7, temperature=0,
                                                 extra_body=NO_EOS, stream=True,
                                                 stream_options={"include_usage": True}))
    last = chunks[-1]
    assert last.choices == [] and last.usage.completion_tokens == 7
    assert last.usage.total_tokens == last.usage.prompt_tokens + 7
    assert all(c.usage is None for c in chunks[:-1])


def test_repeated_prompt_hits_prefix_cache(client):
    first = greedy_completion(client, LONG_PROMPT, max_tokens=4)
    second = greedy_completion(client, LONG_PROMPT, max_tokens=4)
    assert first.usage.prompt_tokens > 32
    assert second.usage.prompt_tokens_details.cached_tokens > 0
    assert second.choices[0].text == first.choices[0].text


def test_batched_greedy_equals_alone(client):
    prompts = ["Once upon a time", "The cat", "In a galaxy far away", "Hello world"]
    alone = [greedy_completion(client, p, max_tokens=24).choices[0].text for p in prompts]
    with concurrent.futures.ThreadPoolExecutor(len(prompts)) as pool:
        together = list(pool.map(lambda p: greedy_completion(client, p, max_tokens=24).choices[0].text, prompts))
    assert together == alone


def test_api_key_required(server):
    no_key = openai.OpenAI(base_url=server.base_url + "/v1", api_key="wrong", max_retries=0, timeout=10)
    with pytest.raises(openai.AuthenticationError) as e:
        no_key.models.list()
    assert e.value.status_code == 401 and e.value.body["code"] == "invalid_api_key"
    status, _, _ = server.request("POST", "/v1/completions", {"prompt": "x"})
    assert status == 401
    assert server.request("GET", "/health")[0] == 200
    assert server.request("GET", "/metrics")[0] == 200
    status, _, _ = server.request("POST", "/v1/completions", {"prompt": "x", "max_tokens": 1},
                                  headers={"Authorization": "Bearer " + API_KEY})
    assert status == 200
