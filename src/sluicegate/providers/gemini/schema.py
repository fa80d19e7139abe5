"""JSON Schema (as OpenAI tools and response_format carry it) → the Gemini `Schema` object (an OpenAPI 3.0 subset).

Gemini's `FunctionDeclaration.parameters` and `GenerationConfig.responseSchema` take the `Schema` object of
https://ai.google.dev/api/caching#Schema, not JSON Schema: no `$ref`/`$defs`, no `additionalProperties` (the
google-genai SDK refuses it for the Gemini API: "additionalProperties is only supported in … Vertex AI mode"),
no `$schema`, `oneOf`, `allOf`, `const`, type lists, or OpenAI's `strict`. This module rewrites what has an
equivalent (refs inlined, `["string","null"]` → `nullable`, `oneOf` → `anyOf`, `const` → `enum`, single-branch
`allOf` merged) and drops the annotations Gemini has no field for.

We use `parameters` / `responseSchema` rather than the newer `parametersJsonSchema` / `responseJsonSchema`
because they are accepted by every Gemini model, on v1 and v1beta, on AI Studio and on Vertex AI alike.
"""

from __future__ import annotations

from typing import Any

from sluicegate.errors import BadRequestError

# The fields of Gemini's Schema object (https://ai.google.dev/api/caching#Schema), in JSON spelling.
_KEPT = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
    "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
    "propertyOrdering", "default", "items", "minimum", "maximum",
})
_TYPES = {"string": "STRING", "number": "NUMBER", "integer": "INTEGER", "boolean": "BOOLEAN", "array": "ARRAY",
          "object": "OBJECT", "null": "NULL"}
# The formats Gemini accepts per type (the Schema reference: "for STRING only enum and date-time"); any other
# (email, uri …) is a 400 there, so it is dropped.
_FORMATS = {"STRING": ("enum", "date-time"), "INTEGER": ("int32", "int64"), "NUMBER": ("float", "double")}
# Deep enough for any real tool schema; a recursive $ref (a tree type) is cut off here rather than looping.
_MAX_DEPTH = 24


def to_gemini_schema(schema: dict[str, Any], *, where: str = "schema") -> dict[str, Any]:
    """A Gemini Schema equivalent to `schema`, with `$defs`/`definitions` inlined.

    >>> to_gemini_schema({"type": "object", "properties": {"q": {"type": ["string", "null"]}},
    ...                   "additionalProperties": False})
    {'type': 'OBJECT', 'properties': {'q': {'type': 'STRING', 'nullable': True}}}
    """
    if not isinstance(schema, dict):
        raise BadRequestError(f"{where} must be a JSON schema object, not {type(schema).__name__}",
                              param=where)
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    return _convert(schema, defs, where, 0)


def _convert(node: Any, defs: dict[str, Any], where: str, depth: int) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}  # `true` / `{}` schemas: anything goes, which Gemini says by omitting the type
    if depth > _MAX_DEPTH:
        return {}
    node = _merge_all_of(node)
    if "$ref" in node:
        node = {**_resolve(node["$ref"], defs, where), **{k: v for k, v in node.items() if k != "$ref"}}
    out: dict[str, Any] = {}
    _copy_type(node, out)
    for key, value in node.items():
        if key in ("type", "$ref", "allOf") or key not in _KEPT | {"oneOf", "const"}:
            continue
        if key == "properties" and isinstance(value, dict):
            out["properties"] = {name: _convert(sub, defs, where, depth + 1) for name, sub in value.items()}
        elif key == "items":
            out["items"] = _convert(value, defs, where, depth + 1)
        elif key in ("anyOf", "oneOf") and isinstance(value, list):
            _copy_any_of(value, out, defs, where, depth)
        elif key == "const":
            out["enum"] = [value]
        elif key == "format":
            if value in _FORMATS.get(out.get("type", ""), ()):
                out["format"] = value
        elif key != "enum":
            out[key] = value
    if isinstance(node.get("enum"), list):
        _copy_enum(node["enum"], out)
    if out.get("type") == "STRING" and "enum" in out:
        out.setdefault("format", "enum")  # how Gemini's reference spells a string enum
    if out.get("type") == "OBJECT" and not out.get("properties"):
        out.pop("properties", None)
        out.pop("required", None)
    return out


def _resolve(ref: Any, defs: dict[str, Any], where: str) -> dict[str, Any]:
    name = ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None
    if name is None or not isinstance(ref, str) or not ref.startswith("#/") or name not in defs:
        raise BadRequestError(f"{where}: cannot resolve $ref {ref!r} (only local #/$defs/… references are "
                              "supported)", param=where)
    found = defs[name]
    return found if isinstance(found, dict) else {}


def _merge_all_of(node: dict[str, Any]) -> dict[str, Any]:
    """`allOf` of plain objects (how pydantic wraps a described $ref) merged into one node."""
    parts = node.get("allOf")
    if not isinstance(parts, list):
        return node
    merged = {k: v for k, v in node.items() if k != "allOf"}
    for part in parts:
        if isinstance(part, dict):
            for key, value in part.items():
                if key == "properties" and isinstance(merged.get("properties"), dict):
                    merged["properties"] = {**merged["properties"], **value}
                elif key == "required" and isinstance(merged.get("required"), list):
                    merged["required"] = [*merged["required"], *value]
                else:
                    merged.setdefault(key, value)
    return merged


def _copy_type(node: dict[str, Any], out: dict[str, Any]) -> None:
    kind = node.get("type")
    if isinstance(kind, list):  # ["string", "null"] → STRING + nullable; several real types → anyOf
        real = [k for k in kind if k != "null"]
        if len(real) < len(kind):
            out["nullable"] = True
        if len(real) == 1:
            out["type"] = _TYPES.get(real[0], str(real[0]).upper())
        elif real:
            out["anyOf"] = [{"type": _TYPES.get(k, str(k).upper())} for k in real]
    elif isinstance(kind, str):
        out["type"] = _TYPES.get(kind, kind.upper())


def _copy_any_of(branches: list[Any], out: dict[str, Any], defs: dict[str, Any], where: str, depth: int) -> None:
    converted = [_convert(b, defs, where, depth + 1) for b in branches]
    real = [b for b in converted if b.get("type") != "NULL"]
    if len(real) < len(converted):
        out["nullable"] = True
    if len(real) == 1:  # Optional[X]: X itself, nullable
        for key, value in real[0].items():
            out.setdefault(key, value)
    elif real:
        out["anyOf"] = real


def _copy_enum(values: list[Any], out: dict[str, Any]) -> None:
    """Gemini enums are strings only; a numeric enum is kept as a hint in the description instead."""
    if all(isinstance(v, str) for v in values):
        out["enum"] = list(values)
        return
    allowed = ", ".join(str(v) for v in values)
    hint = f"One of: {allowed}."
    out["description"] = f"{out['description']} {hint}" if out.get("description") else hint
