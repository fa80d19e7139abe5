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

import datetime
import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.simulators import bedrock_wire as wire
from tests.simulators.server import RecordedRequest, Script, SimulatorServer

__all__ = ["ACCESS_KEY", "API_KEY", "REGION", "SECRET_KEY", "BedrockSimulator", "RecordedRequest"]

ACCESS_KEY = "AKIASIMULATOR0000001"
SECRET_KEY = "simulator/secret/key/0000000000000000000"
API_KEY = "bedrock-api-key-simulator"
REGION = "us-east-1"
_STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


@dataclass
class _Script(Script):
    error_type: str | None = None  # x-amzn-errortype; None → the one Bedrock sends for the status


class BedrockSimulator(SimulatorServer[_Script]):
    """Bedrock runtime + STS on 127.0.0.1, served by aiohttp on its own event loop in a background thread.

    with BedrockSimulator() as sim:
        boto3.client("bedrock-runtime", endpoint_url=sim.base_url, region_name=REGION, …).converse(…)
    """

    provider = "Bedrock"
    base_path = ""  # the endpoint URL (LiteLLM's aws_bedrock_runtime_endpoint, boto3's endpoint_url)

    def __init__(self) -> None:
        super().__init__({API_KEY})
        self.credentials: dict[str, tuple[str, str | None]] = {ACCESS_KEY: (SECRET_KEY, None)}
        self.assumed_roles: list[dict[str, str]] = []
        self._cached: set[str] = set()

    def script(self, status: int, body: dict[str, Any] | bytes | None = None, times: int = 1,
               error_type: str | None = None, headers: dict[str, str] | None = None) -> None:
        """Answer the next `times` requests with `status` (body None → Bedrock's error body for it)."""
        self._add_script(_Script(status, body, dict(headers or {}), times, error_type))

    def script_stream_error(self, after_events: int, kind: str = "throttlingException",
                            message: str = "Too many tokens, please wait before trying again.") -> None:
        """End the next stream with an exception message (`kind`: the ConverseStreamOutput member name)."""
        self._add_stream_error(after_events, wire.exception_event(kind, message))

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._cached.clear()
            self.assumed_roles.clear()
        self.credentials = {ACCESS_KEY: (SECRET_KEY, None)}

    async def _respond(self, request: web.Request, recorded: RecordedRequest,
                       script: _Script | None) -> web.StreamResponse:
        """STS, then authentication, come before any script."""
        try:
            if request.method == "POST" and request.raw_path == "/":
                return self._sts(request, recorded.raw, recorded.headers)
            self._authenticate(request, recorded.raw, recorded.headers)
            return await super()._respond(request, recorded, script)
        except wire.SimError as error:
            return self._error(error.status, error.kind, error.message)

    def _error(self, status: int, kind: str, message: str, extra: dict[str, str] | None = None) -> web.Response:
        headers = {**wire.error_headers(kind), "x-amzn-requestid": str(uuid.uuid4()), **(extra or {})}
        return web.Response(status=status, body=json.dumps({"message": message}).encode(), headers=headers)

    async def _scripted(self, request: web.Request, recorded: RecordedRequest, script: _Script) -> web.Response:
        kind, message = wire.DEFAULT_ERRORS.get(script.status, ("InternalServerException", "error"))
        kind = script.error_type or kind
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


    async def _answer(self, request: web.Request, recorded: RecordedRequest) -> web.StreamResponse:
        """Bedrock runtime: POST /model/{modelId}/converse | converse-stream | invoke."""
        payload = recorded.json
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
        headers = {"content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": request_id}
        return await self._send_stream(request, headers, wire.stream_events(blocks, stop_reason, token_usage))

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
