"""Virtual keys are stored as LiteLLM stores them: the SHA-256 hex digest of the whole key."""

from __future__ import annotations

from sluicegate.gateway.db.tokens import hash_key, is_key_hash, key_name, short_hash

# The hash LiteLLM stores for the key "sk-1234": LiteLLM's proxy docs show it for requests made with
# `Authorization: Bearer sk-1234` (the `/global/spend/report?api_key=sk-1234` example answers
# "api_key": "88dc28d0…6b4b", and the audit-log example's "changed_by_api_key" is the same value); the algorithm
# is litellm/proxy/_types.py `hash_token`: hashlib.sha256(token.encode()).hexdigest().
LITELLM_HASH_OF_SK_1234 = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"


def test_key_hash_matches_litellm() -> None:
    assert hash_key("sk-1234") == LITELLM_HASH_OF_SK_1234


def test_a_hash_is_recognised_and_a_key_is_not() -> None:
    assert is_key_hash(LITELLM_HASH_OF_SK_1234)
    assert not is_key_hash("sk-1234")
    assert not is_key_hash(LITELLM_HASH_OF_SK_1234.upper())  # hexdigest() is lower case


def test_key_name_shows_the_last_four_characters_only() -> None:
    assert key_name("sk-abcdefghijklmnop") == "sk-...mnop"


def test_short_hash_cannot_be_used_to_look_a_key_up() -> None:
    assert short_hash(LITELLM_HASH_OF_SK_1234) == "88dc28d0…"
