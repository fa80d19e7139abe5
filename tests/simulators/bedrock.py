"""A local AWS Bedrock runtime (and the two STS actions role assumption needs) for tests: real wire formats,
SigV4 verification, deterministic answers, faults.

Checked against the official `boto3` client in `test_bedrock_simulator.py`; wire shapes pinned in
`tests/fixtures/bedrock/`.

Routes. POST /model/{modelId}/converse, /converse-stream (AWS binary event stream) and /invoke (Titan and Cohere
embeddings); POST / with a form body: STS AssumeRole (signed) and AssumeRoleWithWebIdentity (unsigned).
Anything else → 404 UnknownOperationException.

Auth. `Authorization: Bearer <key>` (a Bedrock API key) is checked against `api_keys`. Otherwise the SigV4
signature is recomputed with botocore from the secret of the access key id named in the credential scope
(`credentials`: access key id → (secret, session token or None)); a wrong signature → 403
InvalidSignatureException, an unknown key or a missing/wrong X-Amz-Security-Token → 403
UnrecognizedClientException, a bad service name in the scope → 403 InvalidSignatureException. Credentials that
STS hands out are added to `credentials`, so assumed roles sign valid requests.

Answers. Converse validates what the real API rejects (first turn must be user, roles alternate, blank text,
tool blocks without a toolConfig). Text is "Hello from the simulator. You said: <text of the last user turn>";
after toolResult blocks "Hello from the simulator. The tool said: <results joined by ' | '>". When toolConfig
has toolSpecs and the last user turn holds no tool result, the named tool (toolChoice.tool) or the first two
tools are called, with arguments built from the schema's required properties (enum → first, string →
"example", number/integer → 1, boolean → true). `additionalModelRequestFields.thinking` {type: enabled} adds a
reasoningContent block with a signature. A user text containing "[[guardrail]]" gets stopReason
guardrail_intervened. Tokens are words (3 + words per turn); inferenceConfig.maxTokens below the answer's words
truncates it (max_tokens). A cachePoint writes the prefix before the last one to the cache the first time
(cacheWriteInputTokens) and reads it after (cacheReadInputTokens). Streams send text word by word and tool
input in ≤ 8-character fragments, each event padded with a "p" field as Bedrock does.

Faults: `script()` answers the next requests with a status (body None → Bedrock's error body and
x-amzn-errortype for it); `script_stream_error()` ends the next stream with an exception message after n events.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import socket
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.simulators import bedrock_wire as wire
from tests.simulators.openai import RecordedRequest

__all__ = ["ACCESS_KEY", "API_KEY", "REGION", "SECRET_KEY", "BedrockSimulator", "RecordedRequest"]

ACCESS_KEY = "AKIASIMULATOR0000001"
SECRET_KEY = "simulator/secret/key/0000000000000000000"
API_KEY = "bedrock-api-key-simulator"
REGION = "us-east-1"
_STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


@dataclass
class _Script:
    times: int
    status: int
    body: dict[str, Any] | bytes | None
    kind: str | None
    headers: dict[str, str] = field(default_factory=dict)


class BedrockSimulator:
    """Bedrock runtime + STS on 127.0.0.1, served by aiohttp on its own event loop in a background thread.

    with BedrockSimulator() as sim:
        boto3.client("bedrock-runtime", endpoint_url=sim.base_url, region_name=REGION, …).converse(…)
    """

    def __init__(self) -> None:
        self.api_keys = {API_KEY}
        self.credentials: dict[str, tuple[str, str | None]] = {ACCESS_KEY: (SECRET_KEY, None)}
        self.assumed_roles: list[dict[str, str]] = []
        self.chunk_delay_s = 0.0  # a pause between stream events, so a test can abandon a stream mid-way
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._scripts: deque[_Script] = deque()
        self._stream_errors: deque[tuple[int, str, str]] = deque()
        self._cached: set[str] = set()
        self._cancelled = 0
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """The endpoint URL (LiteLLM's aws_bedrock_runtime_endpoint, boto3's endpoint_url)."""
        if self._port is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return f"http://127.0.0.1:{self._port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def cancelled_streams(self) -> int:
        with self._lock:
            return self._cancelled

    def script(self, status: int, body: dict[str, Any] | bytes | None = None, times: int = 1,
               error_type: str | None = None, headers: dict[str, str] | None = None) -> None:
        """Answer the next `times` requests with `status` (body None → Bedrock's error body for it)."""
        with self._lock:
            self._scripts.append(_Script(times, status, body, error_type, dict(headers or {})))

    def script_stream_error(self, after_events: int, kind: str = "throttlingException",
                            message: str = "Too many tokens, please wait before trying again.") -> None:
        """End the next stream with an exception message (`kind`: the ConverseStreamOutput member name)."""
        with self._lock:
            self._stream_errors.append((after_events, kind, message))

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._scripts.clear()
            self._stream_errors.clear()
            self._cached.clear()
            self._cancelled = 0
            self.assumed_roles.clear()
        self.api_keys = {API_KEY}
        self.credentials = {ACCESS_KEY: (SECRET_KEY, None)}
        self.chunk_delay_s = 0.0

    def start(self) -> BedrockSimulator:
        if self._thread is not None:
            return self
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="bedrock-simulator", daemon=True)
        self._thread.start()
        if not ready.wait(10) or self._port is None:
            raise RuntimeError("the Bedrock simulator did not start")
        return self

    def stop(self) -> None:
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None or runner is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = self._runner = None
        self._port = None

    def __enter__(self) -> BedrockSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._open())
        finally:
            ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _open(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.05, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        self._runner = runner
        self._port = sock.getsockname()[1]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            payload: Any = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        recorded = RecordedRequest(request.method, request.path, dict(request.query), headers, payload, raw)
        with self._lock:
            self._requests.append(recorded)
            script = self._take_script()
        try:
            if request.method == "POST" and request.raw_path == "/":
                return self._sts(request, raw, headers)
            self._authenticate(request, raw, headers)
            if script is not None:
                return self._scripted(script)
            return await self._bedrock(request, payload)
        except wire.SimError as error:
            return self._error(error.status, error.kind, error.message)

    def _take_script(self) -> _Script | None:
        if not self._scripts:
            return None
        script = self._scripts[0]
        script.times -= 1
        if script.times <= 0:
            self._scripts.popleft()
        return script

    def _error(self, status: int, kind: str, message: str, extra: dict[str, str] | None = None) -> web.Response:
        headers = {**wire.error_headers(kind), "x-amzn-requestid": str(uuid.uuid4()), **(extra or {})}
        return web.Response(status=status, body=json.dumps({"message": message}).encode(), headers=headers)

    def _scripted(self, script: _Script) -> web.Response:
        kind, message = wire.DEFAULT_ERRORS.get(script.status, ("InternalServerException", "error"))
        kind = script.kind or kind
        if script.body is None:
            return self._error(script.status, kind, message, script.headers)
        raw = script.body if isinstance(script.body, bytes) else json.dumps(script.body).encode()
        headers = {**wire.error_headers(kind), **script.headers} if script.status >= 400 else {
            "content-type": "application/json", **script.headers}
        return web.Response(status=script.status, body=raw, headers=headers)

    def _authenticate(self, request: web.Request, raw: bytes, headers: dict[str, str], service: str = "bedrock"
                      ) -> None:
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            if authorization[7:].strip() not in self.api_keys:
                raise wire.SimError(403, "AccessDeniedException",
                                    "Authentication failed: Please make sure your API Key is valid.")
            return
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            raise wire.SimError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        fields = dict(part.strip().split("=", 1) for part in authorization[17:].split(","))
        key_id, _, region, signed_service, _ = fields["Credential"].split("/")
        secret, token = self.credentials.get(key_id, (None, None))
        if secret is None or (token is not None and headers.get("x-amz-security-token") != token):
            raise wire.SimError(403, "UnrecognizedClientException", wire.UNRECOGNIZED_MESSAGE)
        if signed_service != service:
            raise wire.SimError(403, "InvalidSignatureException",
                                f"Credential should be scoped to correct service: '{service}'.")
        signed = fields["SignedHeaders"].split(";")
        url = f"http://{headers.get('host', '')}{request.raw_path}"
        replay = AWSRequest(method=request.method, url=url, data=raw,
                            headers={name: headers.get(name, "") for name in signed})
        signer = SigV4Auth(Credentials(key_id, secret, token), signed_service, region)
        replay.context["timestamp"] = headers.get("x-amz-date", "")
        canonical = signer.canonical_request(replay)
        expected = signer.signature(signer.string_to_sign(replay, canonical), replay)
        if expected != fields.get("Signature"):
            raise wire.SimError(403, "InvalidSignatureException", wire.SIGNATURE_MESSAGE)

    async def _bedrock(self, request: web.Request, payload: Any) -> web.StreamResponse:
        parts = request.raw_path.split("?", 1)[0].split("/")
        if request.method != "POST" or len(parts) != 4 or parts[1] != "model":
            raise wire.SimError(404, "UnknownOperationException", "")
        model, operation = unquote(parts[2]), parts[3]
        request_id = str(uuid.uuid4())
        if operation == "invoke":
            body, tokens = wire.embedding_body(model, payload)
            return web.json_response(body, headers={
                "x-amzn-requestid": request_id, "x-amzn-bedrock-input-token-count": str(tokens),
                "x-amzn-bedrock-invocation-latency": "12"})
        if operation not in ("converse", "converse-stream"):
            raise wire.SimError(404, "UnknownOperationException", "")
        wire.validate(payload)
        blocks, stop_reason = wire.answer_blocks(payload)
        with self._lock:
            token_usage = wire.usage(payload, blocks, self._cached)
        if operation == "converse":
            return web.json_response(wire.converse_body(blocks, stop_reason, token_usage),
                                     headers={"x-amzn-requestid": request_id})
        return await self._stream(request, wire.stream_events(blocks, stop_reason, token_usage), request_id)

    async def _stream(self, request: web.Request, events: list[bytes], request_id: str) -> web.StreamResponse:
        with self._lock:
            broken = self._stream_errors.popleft() if self._stream_errors else None
        response = web.StreamResponse(status=200, headers={
            "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": request_id})
        response.enable_chunked_encoding()
        finished = False
        try:
            await response.prepare(request)
            for index, frame in enumerate(events):
                if broken is not None and index == broken[0]:
                    await response.write(wire.exception_event(broken[1], broken[2]))
                    break
                if index and self.chunk_delay_s:
                    await asyncio.sleep(self.chunk_delay_s)
                await response.write(frame)
            finished = True
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            if not finished:
                with self._lock:
                    self._cancelled += 1
            raise
        return response

    def _sts(self, request: web.Request, raw: bytes, headers: dict[str, str]) -> web.Response:
        form = {name: values[0] for name, values in parse_qs(raw.decode()).items()}
        action = form.get("Action")
        if action == "AssumeRole":
            try:
                self._authenticate(request, raw, headers, service="sts")
            except wire.SimError as error:
                return _sts_error(error.status, "SignatureDoesNotMatch", error.message)
        elif action != "AssumeRoleWithWebIdentity" or not form.get("WebIdentityToken"):
            return _sts_error(400, "InvalidAction", f"Could not find operation {action}")
        role, session = form.get("RoleArn", ""), form.get("RoleSessionName", "")
        key_id = "ASIA" + uuid.uuid4().hex[:16].upper()
        secret, token = uuid.uuid4().hex + uuid.uuid4().hex, "session-" + uuid.uuid4().hex
        with self._lock:
            self.credentials[key_id] = (secret, token)
            self.assumed_roles.append({"action": action, "role": role, "session": session,
                                       "external_id": form.get("ExternalId", ""),
                                       "token": form.get("WebIdentityToken", "")})
        expires = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        xml = (f'<{action}Response xmlns="{_STS_NS}"><{action}Result><Credentials>'
               f"<AccessKeyId>{key_id}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>"
               f"<SessionToken>{token}</SessionToken><Expiration>{expires}</Expiration></Credentials>"
               f"<AssumedRoleUser><AssumedRoleId>AROASIMULATOR:{session}</AssumedRoleId>"
               f"<Arn>{role.replace(':role/', ':assumed-role/')}/{session}</Arn></AssumedRoleUser>"
               f"</{action}Result><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
               f"</{action}Response>")
        return web.Response(status=200, body=xml.encode(), content_type="text/xml")


def _sts_error(status: int, code: str, message: str) -> web.Response:
    xml = (f'<ErrorResponse xmlns="{_STS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
           f"<Message>{message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return web.Response(status=status, body=xml.encode(), content_type="text/xml")
