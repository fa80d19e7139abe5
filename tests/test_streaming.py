"""stream_chunk_builder: a stream's chunks back into the answer the call would have given without streaming."""

from sluicegate.streaming import stream_chunk_builder


def chunk(delta=None, finish=None, index=0, usage=None, choices=True):
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 7, "model": "gpt-4o-mini"}
    body["choices"] = [{"index": index, "delta": delta or {}, "finish_reason": finish}] if choices else []
    if usage:
        body["usage"] = usage
    return body


def test_tool_calls_are_joined_per_index_and_keep_their_ids():
    chunks = [
        chunk({"role": "assistant", "content": None}),
        chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                               "function": {"name": "get_weather", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                               "function": {"name": "get_time", "arguments": '{"tz"'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": ': "UTC"}'}}]}),
        chunk(finish="tool_calls"),
        chunk(choices=False, usage={"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}),
    ]
    built = stream_chunk_builder(chunks)
    calls = built.choices[0].message.tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_a", "get_weather", '{"city": "Paris"}'), ("call_b", "get_time", '{"tz": "UTC"}')]
    assert built.choices[0].finish_reason == "tool_calls"
    assert built.usage.total_tokens == 14
    assert (built.id, built.created, built.object) == ("chatcmpl-1", 7, "chat.completion")


def test_several_choices_and_reasoning_content():
    chunks = [chunk({"role": "assistant", "reasoning_content": "think "}, index=0),
              chunk({"content": "A"}, index=0), chunk({"content": "B"}, index=1),
              chunk({"reasoning_content": "more"}, index=0), chunk(finish="stop", index=0),
              chunk(finish="length", index=1)]
    built = stream_chunk_builder(chunks)
    assert [c.message.content for c in built.choices] == ["A", "B"]
    assert built.choices[0].message.reasoning_content == "think more"
    assert [c.finish_reason for c in built.choices] == ["stop", "length"]


def test_thinking_blocks_and_signatures_survive_for_the_next_turn():
    block = {"type": "thinking", "thinking": "Let me see.", "signature": "sig-abc"}
    chunks = [chunk({"role": "assistant", "reasoning_content": "Let me see."}),
              chunk({"thinking_blocks": [block]}),
              chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                     "function": {"name": "f", "arguments": "{}"},
                                     "provider_specific_fields": {"thought_signature": "ts-1"}}]}),
              chunk({"provider_specific_fields": {"citations": []}}),
              chunk(finish="tool_calls")]
    message = stream_chunk_builder(chunks).choices[0].message
    assert message.thinking_blocks == [block]
    assert message.tool_calls[0].provider_specific_fields == {"thought_signature": "ts-1"}
    assert message.provider_specific_fields == {"citations": []}


def test_usage_is_counted_when_the_stream_sent_none():
    messages = [{"role": "user", "content": "hello there"}]
    built = stream_chunk_builder([chunk({"role": "assistant", "content": "hi you"}), chunk(finish="stop")],
                                 messages=messages)
    assert built.usage.completion_tokens == 2
    assert built.usage.prompt_tokens > 2


def test_text_completion_chunks_rebuild_a_text_completion():
    chunks = [{"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
               "choices": [{"index": 0, "text": piece, "finish_reason": None}]} for piece in ("Hel", "lo")]
    built = stream_chunk_builder(chunks)
    assert built.object == "text_completion"
    assert built.choices[0].text == "Hello"


def test_no_chunks_rebuild_nothing():
    assert stream_chunk_builder([]) is None
