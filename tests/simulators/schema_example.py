"""A value for a JSON schema's required structure, as every simulator answers tool calls and structured output:
enum → first value, const → it, string → "example", number/integer → 1, boolean → true, object → each required
property, array → one item; `$ref` (within the schema), anyOf/oneOf/allOf (first non-null branch) are followed."""

from __future__ import annotations

from typing import Any


def example(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """An example of `schema` (`root` resolves `$ref`s; by default the schema itself)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 10:
        return "example"
    if isinstance(schema.get("$ref"), str):
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return example(target, root, depth + 1)
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or [] if not (isinstance(o, dict) and o.get("type") == "null")]
        if options:
            return example(options[0], root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        required = schema.get("required") or []
        return {name: example(properties.get(name), root, depth + 1) for name in required}
    if kind == "array":
        return [example(schema.get("items"), root, depth + 1)]
    return {"integer": 1, "number": 1, "boolean": True, "null": None}.get(kind or "string", "example")
