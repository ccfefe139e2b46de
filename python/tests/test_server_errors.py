"""`tokenmill serve` refusals: every bad request gets OpenAI's error JSON with the right status."""
import json
import threading

import pytest

from test_server_support import TINY_MODEL_NAME, ServerProcess, open_sse_socket, read_until

MAX_BODY = 4096


@pytest.fixture(scope="module")
def server(tokenmill_bin, fixtures_dir):
    s = ServerProcess(tokenmill_bin, fixtures_dir / "models" / "llama" / "model.gguf", "--max-body-bytes", MAX_BODY)
    yield s
    s.close()


def error_of(server, method, path, body=None, **kw):
    status, headers, raw = server.request(method, path, body, **kw)
    assert headers.get("Content-Type", "").startswith("application/json"), raw
    err = json.loads(raw)["error"]
    assert set(err) == {"message", "type", "param", "code"}
    return status, err


def test_malformed_json(server):
    status, err = error_of(server, "POST", "/v1/completions", '{"prompt": "x"')
    assert status == 400 and err["type"] == "invalid_request_error" and "JSON" in err["message"]


@pytest.mark.parametrize("field,value,expected", [
    ("temperature", "hot", "'temperature' must be a number"),
    ("max_tokens", "ten", "'max_tokens' must be an integer"),
    ("stream", 1, "'stream' must be a boolean"),
    ("stop", 5, "'stop' must be a string or an array of strings"),
    ("n", 0, "'n' must be in [1, 16], got 0"),
])
def test_wrong_types_name_the_field(server, field, value, expected):
    status, err = error_of(server, "POST", "/v1/completions", {"prompt": "x", field: value})
    assert status == 400 and err["message"] == expected and err["param"] == field


def test_unknown_field_is_accepted(server):
    status, _, raw = server.request("POST", "/v1/completions",
                                    {"prompt": "x", "max_tokens": 2, "some_future_option": {"a": 1}})
    assert status == 200, raw
    assert json.loads(raw)["object"] == "text_completion"


def test_missing_messages(server):
    status, err = error_of(server, "POST", "/v1/chat/completions", {"model": TINY_MODEL_NAME})
    assert status == 400 and err["param"] == "messages"


def test_unknown_model(server):
    status, err = error_of(server, "POST", "/v1/chat/completions",
                           {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert status == 404 and err["code"] == "model_not_found"


def test_unknown_route_and_wrong_method(server):
    status, err = error_of(server, "GET", "/v1/engines")
    assert status == 404 and err["code"] == "not_found"
    status, err = error_of(server, "GET", "/v1/completions")
    assert status == 405 and err["code"] == "method_not_allowed"


def test_oversized_body(server):
    status, err = error_of(server, "POST", "/v1/completions", {"prompt": "a" * (2 * MAX_BODY)})
    assert status == 413 and str(MAX_BODY) in err["message"]


def test_prompt_longer_than_context(server):
    status, err = error_of(server, "POST", "/v1/completions", {"prompt": list(range(5, 305)), "max_tokens": 4})
    assert status == 400 and err["code"] == "context_length_exceeded"
    assert "256" in err["message"] and "300" in err["message"]
    status, err = error_of(server, "POST", "/v1/completions", {"prompt": list(range(5, 105)), "max_tokens": 200})
    assert status == 400 and "300 tokens (100 in the prompt, 200 in the completion)" in err["message"]


def test_batch_of_prompts_refused(server):
    status, err = error_of(server, "POST", "/v1/completions", {"prompt": ["a", "b"]})
    assert status == 400 and err["message"] == "only one prompt per request is supported"


def test_non_text_content_part_refused(server):
    msg = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]
    status, err = error_of(server, "POST", "/v1/chat/completions", {"messages": msg})
    assert status == 400 and "only 'text' content parts" in err["message"]


def test_full_queue_gives_429(tokenmill_bin, fixtures_dir):
    # The bundled model (2048-token context) so the holders' 2000-token generations outlast the
    # probes by far; a tiny fixture model would finish them in milliseconds.
    default_model = fixtures_dir.parents[1] / "models" / "tokenmill-default.gguf"
    s = ServerProcess(tokenmill_bin, default_model, "--max-num-seqs", 1, "--max-queued-requests", 1)
    try:
        body = {"prompt": "Hello", "max_tokens": 2000, "stream": True, "ignore_eos": True}
        # Hold the one running slot and the one queue place with streams that are read slowly.
        holders = [open_sse_socket(s.port, "/v1/completions", body) for _ in range(2)]
        read_until(holders[0], b"data:", 1)
        statuses = []
        threads = [threading.Thread(target=lambda: statuses.append(
            s.request("POST", "/v1/completions", {"prompt": "x", "max_tokens": 1})[0])) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert 429 in statuses, statuses
        status, _, raw = s.request("POST", "/v1/completions", {"prompt": "x", "max_tokens": 1})
        assert status in (200, 429), raw
        for h in holders:
            h.close()
    finally:
        s.close()
