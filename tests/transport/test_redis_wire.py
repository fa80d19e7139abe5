"""PipelinedRedis: RESP encoding and parsing, and against real Redis servers — concurrent calls matched to their
replies, scripts loaded on NOSCRIPT, AUTH and SELECT, a hung server timing out, a restarted one reconnected."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sluicegate.transport.redis_wire import PipelinedRedis, RedisReplyError, _Incomplete, encode_command, parse_reply
from tests.gateway.processes import RedisServer, free_port

ECHO = "return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}"


def test_commands_are_arrays_of_bulk_strings() -> None:
    assert encode_command(["GET", "k"]) == b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    assert encode_command(["SET", "é", 42, b"\x00\r\n"]) == \
        b"*4\r\n$3\r\nSET\r\n$2\r\n\xc3\xa9\r\n$2\r\n42\r\n$3\r\n\x00\r\n\r\n"


@pytest.mark.parametrize(("raw", "expected"), [
    (b"+OK\r\n", "OK"),
    (b":-7\r\n", -7),
    (b"$3\r\na\r\n\r\n", b"a\r\n"),  # a bulk string may hold CRLF
    (b"$-1\r\n", None),
    (b"*-1\r\n", None),
    (b"*0\r\n", []),
    (b"*3\r\n$6\r\nbudget\r\n:0\r\n*1\r\n+x\r\n", [b"budget", 0, ["x"]]),
])
def test_replies_parse_whole(raw: bytes, expected: object) -> None:
    assert parse_reply(raw + b"+next\r\n") == (expected, len(raw))
    for cut in range(len(raw)):  # any prefix is incomplete, never a wrong answer
        with pytest.raises(_Incomplete):
            parse_reply(raw[:cut])


def test_an_error_reply_is_a_value_not_a_raise() -> None:
    error, end = parse_reply(b"-NOSCRIPT No matching script\r\n")
    assert isinstance(error, RedisReplyError)
    assert str(error) == "NOSCRIPT No matching script"
    assert end == 30


@pytest.mark.redis
async def test_concurrent_calls_each_get_their_own_reply(redis_url: str) -> None:
    client = PipelinedRedis(url=redis_url)
    try:
        replies = await asyncio.gather(*(client.run_script(ECHO, [f"key-{i}"], [f"arg-{i}", i]) for i in range(500)))
        assert replies == [[f"key-{i}".encode(), f"arg-{i}".encode(), i + 1] for i in range(500)]
        with pytest.raises(RedisReplyError, match="wrong number of arguments"):
            await client.execute("GET")
        assert await client.execute("GET", f"missing-{uuid.uuid4().hex}") is None  # usable after an error reply
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_a_script_redis_forgot_is_sent_whole_once(redis_url: str) -> None:
    client = PipelinedRedis(url=redis_url)
    script = ECHO + f" -- {uuid.uuid4().hex}"  # unknown to Redis: EVALSHA answers NOSCRIPT, EVAL caches it
    try:
        assert await client.run_script(script, ["k"], ["a", 1]) == [b"k", b"a", 2]
        assert await client.execute("SCRIPT", "EXISTS", client._shas[script]) == [1]
        assert await client.run_script(script, ["k"], ["a", 2]) == [b"k", b"a", 3]
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_a_script_run_soon_answers_through_its_future(redis_url: str) -> None:
    """run_script_soon: no coroutine; written at once, before commands queued after it; NOSCRIPT falls back to
    EVAL as run_script does; before any connection exists it connects first."""
    client = PipelinedRedis(url=redis_url)
    script = ECHO + f" -- {uuid.uuid4().hex}"
    try:
        first = client.run_script_soon(script, ["k"], ["a", 1])  # not connected yet, and unknown to Redis
        assert await first == [b"k", b"a", 2]
        soon = client.run_script_soon(script, ["k"], ["a", 5])
        later = client.execute("GET", f"missing-{uuid.uuid4().hex}")  # queued after: answered after
        assert await later is None
        assert soon.done()
        assert soon.result() == [b"k", b"a", 6]
        failing = client.run_script_soon("return redis.error_reply('nope')", [], [])
        with pytest.raises(RedisReplyError, match="nope"):
            await failing
    finally:
        await client.aclose()


@pytest.fixture
def protected(tmp_path: Path) -> Iterator[int]:
    """A private redis-server that wants a password."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--requirepass", "s3cret pass"], cwd=tmp_path, stdout=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                redis.Redis(port=port, password="s3cret pass").ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        yield port
    finally:
        process.kill()
        process.wait()


async def test_auth_and_select_come_from_the_url(protected: int) -> None:
    client = PipelinedRedis(url=f"redis://:s3cret%20pass@127.0.0.1:{protected}/3")
    try:
        await client.execute("SET", "where", "db3")
        assert redis.Redis(port=protected, password="s3cret pass", db=3).get("where") == b"db3"
    finally:
        await client.aclose()
    wrong = PipelinedRedis(host="127.0.0.1", port=protected, password="nope")
    with pytest.raises(ConnectionError) as refused:
        await wrong.execute("GET", "where")
    assert "nope" not in str(refused.value)
    await wrong.aclose()


async def test_a_hung_server_times_out_and_a_restarted_one_is_reconnected(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()
    client = PipelinedRedis(url=server.url, timeout_s=0.3)
    try:
        assert await client.execute("SET", "k", "v") == "OK"
        server.send_signal(signal.SIGSTOP)
        started = asyncio.get_running_loop().time()
        results = await asyncio.gather(*(client.execute("GET", "k") for _ in range(20)), return_exceptions=True)
        assert all(isinstance(r, TimeoutError) for r in results)
        assert asyncio.get_running_loop().time() - started < 5  # 0.3 s, generously
        server.send_signal(signal.SIGCONT)
        assert await client.execute("GET", "k") == b"v"  # a new connection
        server.stop()
        with pytest.raises(ConnectionError):
            await client.execute("GET", "k")
        server.start()
        assert await client.execute("GET", "k") is None  # nothing persisted: a fresh server, reached again
    finally:
        await client.aclose()
        server.send_signal(signal.SIGCONT)
        server.stop()


@pytest.mark.redis
def test_it_runs_on_uvloop_as_the_gateway_does(redis_url: str) -> None:
    uvloop = pytest.importorskip("uvloop")

    async def round_trip() -> list[object]:
        client = PipelinedRedis(url=redis_url)
        try:
            return await asyncio.gather(*(client.run_script(ECHO, ["k"], ["a", i]) for i in range(50)))
        finally:
            await client.aclose()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(round_trip()) == [[b"k", b"a", i + 1] for i in range(50)]
