"""A JSON Schema checker for the keywords zod's `toJSONSchema` emits for the worker's job
(type, enum, anyOf, properties, required, additionalProperties, propertyNames, items, minItems,
minLength, minimum, maximum, exclusiveMinimum). Any other keyword is refused, so the schema
cannot silently mean more than is checked here. Stdlib only: the worker runs on machines whose
Python has vLLM or transformers but not necessarily a jsonschema package."""

from __future__ import annotations

from typing import Any

_KNOWN = {
    "$schema",
    "type",
    "enum",
    "anyOf",
    "properties",
    "required",
    "additionalProperties",
    "propertyNames",
    "items",
    "minItems",
    "minLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "description",
}


def _type_ok(value: Any, t: str | list[str]) -> bool:
    if isinstance(t, list):
        return any(_type_ok(value, x) for x in t)
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    raise ValueError(f"json schema: unknown type {t!r}")


def problems(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """What is wrong with `value`, as `path: message` strings (empty: valid)."""
    unknown = set(schema) - _KNOWN
    if unknown:
        raise ValueError(f"json schema: keywords {sorted(unknown)} are not supported")
    where = path or "job"
    if "anyOf" in schema:
        options = [problems(value, s, path) for s in schema["anyOf"]]
        if all(options):
            return min(options, key=len)
    if "type" in schema and not _type_ok(value, schema["type"]):
        want = schema["type"] if isinstance(schema["type"], str) else " or ".join(schema["type"])
        return [f"{where}: expected {want}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: expected one of {', '.join(map(repr, schema['enum']))}, got {value!r}"]
    out: list[str] = []
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{where}: must be >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{where}: must be <= {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            out.append(f"{where}: must be > {schema['exclusiveMinimum']}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        out.append(f"{where}: must not be empty")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            out.append(f"{where}: needs at least {schema['minItems']} items")
        for i, item in enumerate(value):
            out += problems(item, schema.get("items", {}), f"{where}[{i}]")
    if isinstance(value, dict):
        props: dict[str, Any] = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                out.append(f"{where}.{key}: missing")
        extra = schema.get("additionalProperties", {})
        for key, item in value.items():
            sub = f"{path}.{key}" if path else key
            if key in props:
                out += problems(item, props[key], sub)
            elif extra is False:
                out.append(f"{sub}: not a job field")
            elif isinstance(extra, dict):
                out += problems(item, extra, sub)
    return out
