"""Exact OpenAI tokenization, offline: tiktoken over the BPE files shipped in encodings/.

Nothing here touches the network: the files are package data, checked against the SHA-256 that tiktoken
itself expects, and tiktoken is imported only when a count is first needed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sluicegate.catalog.lookup import find_model
from sluicegate.errors import ConfigError

if TYPE_CHECKING:
    import tiktoken

ENCODINGS_DIR = os.path.join(os.path.dirname(__file__), "encodings")

# Models the catalog gives no tokenizer (every non-OpenAI model) are counted with cl100k_base, as LiteLLM
# does: an estimate for them, exact for OpenAI's.
DEFAULT_ENCODING = "cl100k_base"

_ENDOFTEXT = "<|endoftext|>"
_FIM = {"<|fim_prefix|>": 100258, "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260}
_R50K_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
_CL100K_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
                   r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
_O200K_PATTERN = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])

# Patterns, special tokens and hashes are those of tiktoken's own tiktoken_ext/openai_public.py.
# OpenAI publishes r50k_base as the first 50,256 ranks of p50k_base's file (p50k adds runs of spaces for
# code), so one shipped file serves both; `rank_limit` cuts it back to r50k.
_SPECS: dict[str, dict[str, Any]] = {
    "o200k_base": {"file": "o200k_base.tiktoken", "pat_str": _O200K_PATTERN,
                   "special_tokens": {_ENDOFTEXT: 199999, "<|endofprompt|>": 200018}},
    "cl100k_base": {"file": "cl100k_base.tiktoken", "pat_str": _CL100K_PATTERN,
                    "special_tokens": {_ENDOFTEXT: 100257, **_FIM, "<|endofprompt|>": 100276}},
    "p50k_base": {"file": "p50k_base.tiktoken", "pat_str": _R50K_PATTERN,
                  "special_tokens": {_ENDOFTEXT: 50256}, "explicit_n_vocab": 50281},
    "r50k_base": {"file": "p50k_base.tiktoken", "pat_str": _R50K_PATTERN, "rank_limit": 50256,
                  "special_tokens": {_ENDOFTEXT: 50256}, "explicit_n_vocab": 50257},
}
FILE_SHA256 = {
    "o200k_base.tiktoken": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base.tiktoken": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "p50k_base.tiktoken": "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069",
}

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}  # built once each; an Encoding is immutable and thread-safe


def read_ranks(path: str | os.PathLike[str], expected_sha256: str, rank_limit: int | None = None) -> dict[bytes, int]:
    """A .tiktoken file's token → rank table, after checking the file is the one OpenAI published."""
    import base64
    import hashlib

    with open(path, "rb") as f:
        data = f.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ConfigError(f"{os.path.basename(path)} has SHA-256 {actual}, not {expected_sha256}: the tokenizer "
                          "file was altered or damaged; reinstall sluicegate", file=os.fspath(path))
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            if rank_limit is None or int(rank) < rank_limit:
                ranks[base64.b64decode(token)] = int(rank)
    return ranks


def build_encoding(name: str, directory: str | os.PathLike[str] = ENCODINGS_DIR) -> tiktoken.Encoding:
    """Build one encoding from the files in `directory` (uncached; `get_encoding` is the cached door)."""
    import tiktoken

    spec = _SPECS.get(name)
    if spec is None:
        raise ValueError(f"unknown encoding {name!r}; sluicegate ships {', '.join(sorted(_SPECS))}")
    ranks = read_ranks(os.path.join(directory, spec["file"]), FILE_SHA256[spec["file"]], spec.get("rank_limit"))
    return tiktoken.Encoding(name=name, pat_str=spec["pat_str"], mergeable_ranks=ranks,
                             special_tokens=spec["special_tokens"], explicit_n_vocab=spec.get("explicit_n_vocab"))


def get_encoding(name: str) -> tiktoken.Encoding:
    """The named tiktoken encoding (o200k_base, cl100k_base, p50k_base, r50k_base), built once from local files."""
    encoding = _encodings.get(name)
    if encoding is None:
        with _lock:
            encoding = _encodings.get(name)
            if encoding is None:
                encoding = _encodings[name] = build_encoding(name)
    return encoding


def encoding_for_model(model: str) -> tiktoken.Encoding:
    """The encoding the catalog names for a model; cl100k_base for models it gives none (see DEFAULT_ENCODING)."""
    info = find_model(model) if model else None
    return get_encoding(info.tokenizer if info and info.tokenizer else DEFAULT_ENCODING)


def encode(model: str = "", text: str = "") -> list[int]:
    """LiteLLM-compatible: the model's token ids for text (special-token text is encoded as plain text)."""
    return encoding_for_model(model).encode(text, disallowed_special=())


def decode(model: str = "", tokens: list[int] | None = None) -> str:
    """LiteLLM-compatible: the text for token ids."""
    return encoding_for_model(model).decode(list(tokens or ()))


# OpenAI's documented chat framing for gpt-3.5-turbo, gpt-4, gpt-4o and later chat models (openai-cookbook,
# "How to count tokens with tiktoken"): each message costs 3 tokens plus its encoded values, a name 1 more,
# and every reply is primed with 3 (<|start|>assistant<|message|>).
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_REPLY_PRIMING = 3


def token_counter(
    model: str = "",
    text: str | list[str] | None = None,
    messages: list[dict[str, Any]] | None = None,
    tools: list[dict[str, Any]] | None = None,
    count_response_tokens: bool = False,
) -> int:
    """LiteLLM-compatible: tokens in text, or in chat messages (+ tool definitions) with OpenAI's framing.

    `count_response_tokens=True` counts content only, without the per-message and reply-priming overhead.

        token_counter(model="gpt-4o", messages=[{"role": "user", "content": "hello world"}])  # 9
    """
    encoding = encoding_for_model(model)
    if messages is None:
        if text is None:
            raise ValueError("token_counter needs text or messages")
        texts = [text] if isinstance(text, str) else text
        total = sum(_length(encoding, t) for t in texts)
    else:
        total = sum(_message_tokens(encoding, m, count_response_tokens) for m in messages)
        if not count_response_tokens:
            total += TOKENS_REPLY_PRIMING
    if tools:
        total += _tools_tokens(encoding, tools)
    return total


def _length(encoding: tiktoken.Encoding, text: str) -> int:
    return len(encoding.encode(text, disallowed_special=()))


def _message_tokens(encoding: tiktoken.Encoding, message: Mapping[str, Any], content_only: bool) -> int:
    total = 0 if content_only else TOKENS_PER_MESSAGE
    for key, value in message.items():
        if isinstance(value, str):
            total += _length(encoding, value)  # role, name and tool_call_id count too, as in the cookbook
        elif key == "content" and isinstance(value, list):
            total += sum(_part_tokens(encoding, part) for part in value)
        elif key == "tool_calls" and value:
            total += sum(_call_tokens(encoding, call.get("function") or {}) for call in value)
        elif key == "function_call" and value:
            total += _call_tokens(encoding, value)
        if key == "name" and not content_only:
            total += TOKENS_PER_NAME
    return total


def _call_tokens(encoding: tiktoken.Encoding, function: Mapping[str, Any]) -> int:
    # An estimate: the call's name and JSON arguments as text; OpenAI documents no framing for them.
    return _length(encoding, str(function.get("name") or "")) + _length(encoding, str(function.get("arguments") or ""))


def _part_tokens(encoding: tiktoken.Encoding, part: Mapping[str, Any]) -> int:
    kind = part.get("type")
    if kind == "text":
        return _length(encoding, part.get("text") or "")
    if kind == "refusal":
        return _length(encoding, part.get("refusal") or "")
    if kind == "image_url":
        return image_tokens(part.get("image_url"))
    if kind in ("input_audio", "file"):
        return 0  # OpenAI documents no token count for these; the response's usage has the real figure
    raise ValueError(f"token_counter cannot count a content part of type {kind!r}")


# The cookbook's tool-definition framing (section 7), which it checks against the API's own counts. Only a
# function's name, description and top-level properties count; nested schemas are undercounted.
_TOOL_FRAMING = {  # func_init per tokenizer; the other constants are the same for both families
    "o200k_base": 7,
    "cl100k_base": 10,
}
_PROP_INIT, _PROP_KEY, _ENUM_INIT, _ENUM_ITEM, _FUNC_END = 3, 3, -3, 3, 12


def _tools_tokens(encoding: tiktoken.Encoding, tools: Iterable[Mapping[str, Any]]) -> int:
    func_init = _TOOL_FRAMING.get(encoding.name, _TOOL_FRAMING["cl100k_base"])
    total = 0
    for tool in tools:
        function = tool.get("function") or tool
        total += func_init
        description = str(function.get("description") or "").removesuffix(".")
        total += _length(encoding, f"{function.get('name', '')}:{description}")
        properties = (function.get("parameters") or {}).get("properties") or {}
        if properties:
            total += _PROP_INIT
        for prop_name, prop in properties.items():
            total += _PROP_KEY
            if "enum" in prop:
                total += _ENUM_INIT + sum(_ENUM_ITEM + _length(encoding, str(item)) for item in prop["enum"])
            prop_description = str(prop.get("description") or "").removesuffix(".")
            total += _length(encoding, f"{prop_name}:{prop.get('type', '')}:{prop_description}")
    return total + _FUNC_END


# OpenAI's image pricing for gpt-4o-class models: "low" detail is a flat 85 tokens; otherwise the image is
# fitted into 2048×2048, its short side scaled down to 768, and each 512-pixel tile costs 170 on top of 85.
# (The mini models bill images differently; they are counted the same way here.)
IMAGE_BASE_TOKENS = 85
IMAGE_TILE_TOKENS = 170
# An image whose size cannot be read offline (a URL, or an unrecognised format) is counted as 1024×1024
# at high detail: 765 tokens. Counting never downloads an image.
IMAGE_UNKNOWN_SIZE_TOKENS = 765


def image_tokens(image_url: Any) -> int:
    """Tokens for an image_url content part's value (a URL string or {"url", "detail"})."""
    url = image_url if isinstance(image_url, str) else (image_url or {}).get("url", "")
    detail = "auto" if isinstance(image_url, str) else (image_url or {}).get("detail") or "auto"
    if detail == "low":
        return IMAGE_BASE_TOKENS
    size = _data_url_size(url)
    if size is None:
        return IMAGE_UNKNOWN_SIZE_TOKENS
    return tile_tokens(*size)


def tile_tokens(width: int, height: int) -> int:
    """High-detail tokens for an image of this size, by OpenAI's tile formula."""
    import math

    w, h = float(width), float(height)
    if max(w, h) > 2048:
        w, h = w * 2048 / max(w, h), h * 2048 / max(w, h)
    if min(w, h) > 768:
        w, h = w * 768 / min(w, h), h * 768 / min(w, h)
    return IMAGE_BASE_TOKENS + IMAGE_TILE_TOKENS * math.ceil(w / 512) * math.ceil(h / 512)


_HEADER_BASE64_CHARS = 65536  # the size is in the first bytes (JPEG: before the first frame); decode no more


def _data_url_size(url: str) -> tuple[int, int] | None:
    if not url.startswith("data:") or ";base64," not in url:
        return None
    import base64
    import binascii

    encoded = url.split(";base64,", 1)[1][:_HEADER_BASE64_CHARS]
    try:
        head = base64.b64decode(encoded[: len(encoded) // 4 * 4])
    except (binascii.Error, ValueError):
        return None
    return image_size(head)


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from the first bytes of a PNG, GIF, WebP or JPEG file; None if not recognised."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and len(head) >= 30:
        return _webp_size(head)
    if head[:2] == b"\xff\xd8":
        return _jpeg_size(head)
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 ":  # lossy: 14-bit sizes after the frame tag and start code
        return (int.from_bytes(head[26:28], "little") & 0x3FFF, int.from_bytes(head[28:30], "little") & 0x3FFF)
    if chunk == b"VP8L":  # lossless: two 14-bit fields, each stored minus one
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: two 24-bit fields, each stored minus one
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


# Start-of-frame markers carry the size; C4 (Huffman tables), C8 and CC (arithmetic coding) are not frames.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 <= len(head):
        if head[i] != 0xFF:
            return None  # lost sync with the segment structure
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _JPEG_FRAMES:
            return int.from_bytes(head[i + 7:i + 9], "big"), int.from_bytes(head[i + 5:i + 7], "big")
        i += 2 + int.from_bytes(head[i + 2:i + 4], "big")
    return None
