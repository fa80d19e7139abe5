"""Offline tokenization: shipped files, hash checks, OpenAI's chat framing, image and tool counts."""

from __future__ import annotations

import base64
import hashlib
import shutil
import socket
from pathlib import Path

import pytest

from sluicegate.catalog import tokens
from sluicegate.catalog.tokens import (
    FILE_SHA256,
    build_encoding,
    decode,
    encode,
    encoding_for_model,
    get_encoding,
    image_size,
    image_tokens,
    tile_tokens,
    token_counter,
)
from sluicegate.errors import ConfigError

ENCODINGS_DIR = Path(tokens.ENCODINGS_DIR)

# openai-cookbook, examples/How_to_count_tokens_with_tiktoken.ipynb, section 6: the API reports 129 prompt
# tokens for these messages on gpt-3.5-turbo and gpt-4, and 124 on gpt-4o and gpt-4o-mini.
COOKBOOK_MESSAGES = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon "
                                  "into plain English."},
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch "
                                                          "base on opportunities for increased leverage."},
    {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to "
                                                               "do better."},
    {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client "
                                "deliverable."},
]
# Section 7: with this tool the API reports 105 prompt tokens on gpt-3.5-turbo / gpt-4, 101 on gpt-4o(-mini).
COOKBOOK_TOOLS = [{"type": "function", "function": {
    "name": "get_current_weather",
    "description": "Get the current weather in a given location",
    "parameters": {"type": "object", "properties": {
        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
        "unit": {"type": "string", "description": "The unit of temperature to return",
                 "enum": ["celsius", "fahrenheit"]},
    }, "required": ["location"]},
}}]
COOKBOOK_TOOL_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant that can answer to questions about the weather."},
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]
SAMPLE = "Hello, world! héllo 世界 🌍 1234567 <|endoftext|>\n\n    def f(x):\n\treturn x  # code"


# --- the shipped files -----------------------------------------------------------------------------------


def test_shipped_files_match_sha256sums_and_tiktokens_expected_hashes() -> None:
    listed = dict(reversed(line.split()) for line in (ENCODINGS_DIR / "SHA256SUMS").read_text().splitlines())
    assert listed == FILE_SHA256
    for name, digest in FILE_SHA256.items():
        assert hashlib.sha256((ENCODINGS_DIR / name).read_bytes()).hexdigest() == digest


def test_a_tampered_file_is_refused(tmp_path: Path) -> None:
    shutil.copy(ENCODINGS_DIR / "cl100k_base.tiktoken", tmp_path / "cl100k_base.tiktoken")
    data = bytearray((tmp_path / "cl100k_base.tiktoken").read_bytes())
    data[100] ^= 1
    (tmp_path / "cl100k_base.tiktoken").write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="altered"):
        build_encoding("cl100k_base", tmp_path)


def test_encodings_load_offline_without_a_cache_or_a_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(tokens, "_encodings", {})  # nothing built yet in this test
    assert get_encoding("o200k_base").encode("hello world") == [24912, 2375]
    assert encode(model="gpt-3.5-turbo", text="hello world") == [15339, 1917]
    assert list(tmp_path.iterdir()) == []  # nothing was cached or downloaded


def _r50k_file(p50k: bytes) -> bytes:
    return b"".join(line + b"\n" for line in p50k.splitlines() if int(line.split()[1]) < 50256)


def test_encodings_equal_tiktokens_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Give tiktoken its own cache, filled from our files under the names it looks for, and compare.
    import tiktoken
    import tiktoken.registry

    urls = {"cl100k_base": "cl100k_base.tiktoken", "o200k_base": "o200k_base.tiktoken",
            "p50k_base": "p50k_base.tiktoken", "r50k_base": "r50k_base.tiktoken"}
    p50k = (ENCODINGS_DIR / "p50k_base.tiktoken").read_bytes()
    for name, file in urls.items():
        url = f"https://openaipublic.blob.core.windows.net/encodings/{file}"
        data = _r50k_file(p50k) if name == "r50k_base" else (ENCODINGS_DIR / file).read_bytes()
        (tmp_path / hashlib.sha1(url.encode()).hexdigest()).write_bytes(data)  # noqa: S324  # tiktoken's cache key
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    for name in urls:
        theirs, ours = tiktoken.get_encoding(name), get_encoding(name)
        assert ours.n_vocab == theirs.n_vocab, name
        assert ours.special_tokens_set == theirs.special_tokens_set, name
        assert ours.encode(SAMPLE, allowed_special="all") == theirs.encode(SAMPLE, allowed_special="all"), name


# --- encode / decode -------------------------------------------------------------------------------------


def test_known_strings() -> None:
    assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert get_encoding("o200k_base").encode("hello world") == [24912, 2375]
    assert token_counter(model="gpt-4o", text="hello world") == 2
    assert token_counter(model="gpt-3.5-turbo", text="hello world") == 2


def test_r50k_is_p50k_without_the_whitespace_tokens() -> None:
    assert get_encoding("r50k_base").n_vocab == 50257
    assert get_encoding("p50k_base").n_vocab == 50281
    assert get_encoding("p50k_base").encode("hello     world") == [31373, 50259, 995]
    assert get_encoding("r50k_base").encode("hello     world") == [31373, 220, 220, 220, 220, 995]


def test_encoding_follows_the_catalog_tokenizer() -> None:
    assert encoding_for_model("gpt-4o").name == "o200k_base"
    assert encoding_for_model("openai/gpt-4.1-mini").name == "o200k_base"
    assert encoding_for_model("gpt-3.5-turbo").name == "cl100k_base"
    assert encoding_for_model("text-embedding-3-small").name == "cl100k_base"
    assert encoding_for_model("claude-sonnet-4-5").name == "cl100k_base"  # no tokenizer in the data: the default
    assert encoding_for_model("").name == "cl100k_base"
    with pytest.raises(ValueError, match="unknown encoding"):
        get_encoding("gpt2")


def test_encode_decode_round_trip_and_special_text_is_plain_text() -> None:
    ids = encode(model="gpt-4o", text=SAMPLE)
    assert decode(model="gpt-4o", tokens=ids) == SAMPLE
    assert 199999 not in encode(model="gpt-4o", text="<|endoftext|>")


# --- chat counting ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "expected"), [
    ("gpt-3.5-turbo", 129), ("gpt-4", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124),
])
def test_cookbook_chat_example(model: str, expected: int) -> None:
    assert token_counter(model=model, messages=COOKBOOK_MESSAGES) == expected


@pytest.mark.parametrize(("model", "expected"), [
    ("gpt-3.5-turbo", 105), ("gpt-4", 105), ("gpt-4o", 101), ("gpt-4o-mini", 101),
])
def test_cookbook_tools_example(model: str, expected: int) -> None:
    assert token_counter(model=model, messages=COOKBOOK_TOOL_MESSAGES, tools=COOKBOOK_TOOLS) == expected


def test_message_framing() -> None:
    plain = [{"role": "user", "content": "hello world"}]
    assert token_counter(model="gpt-4o", messages=plain) == 3 + 1 + 2 + 3
    named = [{"role": "user", "name": "bob", "content": "hello world"}]
    assert token_counter(model="gpt-4o", messages=named) == 3 + 1 + 2 + 1 + 1 + 3  # "bob" is 1 token, +1 for name
    assert token_counter(model="gpt-4o", messages=plain, count_response_tokens=True) == 1 + 2
    assert token_counter(model="gpt-4o", text=["hello world", "hello world"]) == 4
    with pytest.raises(ValueError, match="text or messages"):
        token_counter(model="gpt-4o")


def test_content_parts_and_tool_calls() -> None:
    parts = [{"role": "user", "content": [{"type": "text", "text": "hello world"},
                                          {"type": "image_url", "image_url": {"url": "https://x/y.png",
                                                                              "detail": "low"}},
                                          {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}]
    assert token_counter(model="gpt-4o", messages=parts) == 3 + 1 + 2 + 85 + 0 + 3
    call = [{"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "type": "function",
                             "function": {"name": "get_current_weather", "arguments": "{}"}}]}]
    name_and_args = len(encode("gpt-4o", "get_current_weather")) + len(encode("gpt-4o", "{}"))
    assert token_counter(model="gpt-4o", messages=call) == 3 + 1 + name_and_args + 3
    with pytest.raises(ValueError, match="video"):
        token_counter(model="gpt-4o", messages=[{"role": "user", "content": [{"type": "video"}]}])


# --- images ----------------------------------------------------------------------------------------------


def _data_url(head: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(head + bytes(64)).decode()}"


def _png(width: int, height: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big")


def test_openai_tile_formula_matches_its_documented_examples() -> None:
    assert tile_tokens(1024, 1024) == 765  # scaled to 768×768: 4 tiles
    assert tile_tokens(2048, 4096) == 1105  # fit to 1024×2048, then 768×1536: 6 tiles
    assert tile_tokens(100, 100) == 255  # never scaled up: 1 tile


def test_image_tokens_from_detail_and_data_urls() -> None:
    assert image_tokens({"url": _data_url(_png(2048, 4096), "image/png"), "detail": "low"}) == 85
    assert image_tokens({"url": _data_url(_png(2048, 4096), "image/png")}) == 1105
    assert image_tokens(_data_url(_png(512, 512), "image/png")) == 255
    assert image_tokens({"url": "https://example.com/cat.jpg", "detail": "high"}) == 765  # size unknown offline
    assert image_tokens({"url": "data:image/png;base64,@@@not-base64"}) == 765


def test_image_size_reads_png_gif_webp_and_jpeg_headers() -> None:
    assert image_size(_png(640, 480)) == (640, 480)
    assert image_size(b"GIF89a" + (300).to_bytes(2, "little") + (200).to_bytes(2, "little")) == (300, 200)
    vp8x = b"RIFF" + bytes(4) + b"WEBP" + b"VP8X" + bytes(8) + (799).to_bytes(3, "little") + (599).to_bytes(3, "little")
    assert image_size(vp8x) == (800, 600)
    app0 = b"\xff\xe0" + (16).to_bytes(2, "big") + bytes(14)
    sof0 = b"\xff\xc0" + (17).to_bytes(2, "big") + b"\x08" + (720).to_bytes(2, "big") + (1280).to_bytes(2, "big")
    assert image_size(b"\xff\xd8" + app0 + sof0 + bytes(16)) == (1280, 720)
    assert image_size(b"not an image at all") is None
