"""Settings declared once: dataclass fields that carry their description and limits.

A field made by `setting(default, description, minimum=..., choices=...)` is the one source of
that setting. From the dataclasses this module derives the rest:

- `build(cls, values)`: the validated instance from a mapping (YAML, Snakemake's config, CLI flags):
  defaults filled, strings such as "1e-3" or `--config 'dims=[2]'`'s "2" read as the number the
  field wants, every error a `ConfigError` whose message starts with the key's path;
- `json_schema(cls)`: the JSON schema (workflow/schemas/config.schema.yaml is generated from it);
- `commented_yaml(instance)`: the instance as YAML with each description as a comment (config.yaml).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import textwrap
import types
import typing
from typing import Any, Mapping

import yaml


class ConfigError(ValueError):
    """A bad setting; the message starts with the setting's path (e.g. train.lr_gen)."""

    @property
    def setting(self) -> str:
        """The first name of the path: the setting (or section) the error is about."""
        return re.split(r"[.\[:]", str(self), maxsplit=1)[0]


_INT = re.compile(r"^[-+]?\d+$")
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_BOOL = {"true": True, "false": False}
_LIMITS = ("minimum", "exclusive_minimum", "maximum", "exclusive_maximum", "choices", "min_items",
           "unique", "min_properties", "per_job", "optional")


def setting(default: Any, description: str, **limits: Any) -> Any:
    """A dataclass field with its description and limits.

    Limits: minimum, exclusive_minimum, maximum, exclusive_maximum, choices (of a string or of a
    list's items; numeric limits of a list also apply to its items), min_items, unique (a list's
    items distinct; default True), min_properties (of a mapping), per_job (a TrainConfig field set
    by the pipeline's fan-out, not by its train section), optional (default None: the key may be
    absent, and is left out of `to_plain`).
    """
    unknown = set(limits) - set(_LIMITS)
    if unknown:
        raise TypeError(f"setting(): unknown limits {sorted(unknown)}")
    metadata = {"description": " ".join(description.split()), **limits}
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def section(cls: type) -> Any:
    """A field holding a nested settings dataclass, described by its docstring."""
    return setting(cls(), _doc(cls))


def fields(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    """(field, resolved type) of a settings dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


def to_plain(value: Any, nested: bool = False) -> Any:
    """Dataclasses as dicts (field order kept), recursively; for YAML, JSON and Snakemake's config.

    Absent optional fields are left out, and so are per-job fields of a nested section.
    """
    if dataclasses.is_dataclass(value):
        return {f.name: to_plain(getattr(value, f.name), nested=True) for f in dataclasses.fields(value)
                if not (f.metadata.get("optional") and getattr(value, f.name) is None)
                and not (nested and f.metadata.get("per_job"))}
    if isinstance(value, dict):
        return {k: to_plain(v, nested) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v, nested) for v in value]
    return value


# -- validation ----------------------------------------------------------------------------------


def build(cls: type, values: Any, path: str = "", nested: bool = False) -> Any:
    """The validated `cls` instance from a mapping; a ConfigError names the first bad key.

    After the fields, the instance's own `check()` (cross-field rules) runs, if it has one. A
    nested section (`nested`) does not take per-job fields: the fan-out sets those.
    """
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise ConfigError(f"{path or '(top level)'}: expected a mapping of settings, got {values!r}")
    names = [f.name for f, _ in fields(cls) if not (nested and f.metadata.get("per_job"))]
    for key in values:
        if key not in names:
            raise ConfigError(f"{_join(path, key)}: unknown setting; allowed: {', '.join(names)}")
    checked = {f.name: _check(values[f.name], kind, f.metadata, _join(path, f.name))
               for f, kind in fields(cls) if f.name in values}
    instance = cls(**checked)
    if hasattr(instance, "check"):
        try:
            instance.check()
        except ConfigError as err:
            raise ConfigError(_join(path, str(err))) from None
    return instance


def check_as(cls: type, name: str, value: Any, path: str) -> Any:
    """`value` validated as field `name` of `cls` would be (for settings given elsewhere)."""
    f, kind = next((f, kind) for f, kind in fields(cls) if f.name == name)
    return _check(value, kind, f.metadata, path)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check(value: Any, kind: Any, meta: Mapping, path: str) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):  # X | None
        if value is None:
            return None
        return _check(value, next(a for a in args if a is not type(None)), meta, path)
    if dataclasses.is_dataclass(kind):
        return build(kind, value, path, nested=True)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        if len(value) < meta.get("min_items", 0):
            raise ConfigError(f"{path}: give at least {meta['min_items']} "
                              f"{'entry' if meta['min_items'] == 1 else 'entries'}")
        items = [_check(item, args[0], meta, f"{path}[{i}]") for i, item in enumerate(value)]
        if meta.get("unique", True) and len({repr(i) for i in items}) != len(items):
            raise ConfigError(f"{path}: repeated entries in {items}")
        return items
    if kind is dict or origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        if len(value) < meta.get("min_properties", 0):
            raise ConfigError(f"{path}: give at least {meta['min_properties']} entries")
        item_kind = args[1] if args else Any
        return {str(k): v if item_kind is Any else _check(v, item_kind, {}, f"{path}.{k}")
                for k, v in value.items()}
    return _scalar(value, kind, meta, path)


def _scalar(value: Any, kind: type, meta: Mapping, path: str) -> Any:
    if isinstance(value, str) and kind is not str:
        value = _from_string(value.strip(), kind)
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{path}: expected an integer, got {value!r}")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{path}: expected a finite number, got {value!r}")
        value = float(value)
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"{path}: expected a string, got {value!r}")
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{path}: unknown {value!r}; choose one of {', '.join(meta['choices'])}")
    for limit, holds, word in (("minimum", lambda v, m: v >= m, ">="),
                               ("exclusive_minimum", lambda v, m: v > m, ">"),
                               ("maximum", lambda v, m: v <= m, "<="),
                               ("exclusive_maximum", lambda v, m: v < m, "<")):
        if limit in meta and not holds(value, meta[limit]):
            raise ConfigError(f"{path}: must be {word} {meta[limit]}, got {value!r}")
    return value


def _from_string(text: str, kind: type) -> Any:
    """The int, float or bool a string spells (YAML 1.1's "1e-3", Snakemake's --config items)."""
    if kind is int and _INT.match(text):
        return int(text)
    if kind is float and _FLOAT.match(text):
        return float(text)
    if kind is bool and text.lower() in _BOOL:
        return _BOOL[text.lower()]
    return text


# -- the JSON schema -----------------------------------------------------------------------------

_JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string"}
_JSON_LIMITS = {"minimum": "minimum", "exclusive_minimum": "exclusiveMinimum", "maximum": "maximum",
                "exclusive_maximum": "exclusiveMaximum", "choices": "enum"}


def json_schema(cls: type) -> dict:
    """The JSON schema of a settings dataclass: descriptions, types, limits and defaults."""
    instance = cls()
    properties = {}
    for f, kind in fields(cls):
        if f.metadata.get("per_job"):
            continue
        sub = {"description": f.metadata["description"], **_type_schema(kind, f.metadata)}
        if dataclasses.is_dataclass(kind):
            sub["default"] = {}  # its own properties hold the defaults
        elif not f.metadata.get("optional"):
            sub["default"] = to_plain(getattr(instance, f.name))
        properties[f.name] = sub
    return {"description": _doc(cls), "type": "object", "additionalProperties": False,
            "properties": properties}


def _type_schema(kind: Any, meta: Mapping) -> dict:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        inner = _type_schema(next(a for a in args if a is not type(None)), meta)
        return inner if meta.get("optional") else {**inner, "type": [inner["type"], "null"]}
    if dataclasses.is_dataclass(kind):
        schema = json_schema(kind)
        del schema["description"]
        return schema
    if origin is list:
        schema = {"type": "array"}
        if "min_items" in meta:
            schema["minItems"] = meta["min_items"]
        if meta.get("unique", True):
            schema["uniqueItems"] = True
        schema["items"] = _type_schema(args[0], meta)
        return schema
    if kind is dict or origin is dict:
        schema = {"type": "object"}
        if "min_properties" in meta:
            schema["minProperties"] = meta["min_properties"]
        if args and args[1] is not Any:
            schema["additionalProperties"] = _type_schema(args[1], {})
        return schema
    schema = {"type": _JSON_TYPES[kind]}
    schema.update({key: list(meta[name]) if name == "choices" else meta[name]
                   for name, key in _JSON_LIMITS.items() if name in meta})
    return schema


def _doc(cls: type) -> str:
    return " ".join((cls.__doc__ or "").split())


# -- the commented YAML ----------------------------------------------------------------------------


def commented_yaml(instance: Any, width: int = 100) -> str:
    """The instance as block YAML: its class docstring, then each key preceded by its description."""
    lines = textwrap.wrap(_doc(type(instance)), width, initial_indent="# ", subsequent_indent="# ") + [""]
    _emit(instance, 0, lines, width)
    return "\n".join(lines) + "\n"


def _emit(instance: Any, indent: int, lines: list[str], width: int) -> None:
    pad = " " * indent
    for f, kind in fields(type(instance)):
        if f.metadata.get("per_job"):
            continue
        lines += textwrap.wrap(f.metadata["description"], width - indent, initial_indent=f"{pad}# ",
                               subsequent_indent=f"{pad}# ")
        value = getattr(instance, f.name)
        if dataclasses.is_dataclass(value):
            lines.append(f"{pad}{f.name}:")
            _emit(value, indent + 2, lines, width)
        elif isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            lines.append(f"{pad}{f.name}:")
            lines += [f"{pad}  {k}: {_flow(v)}" for k, v in to_plain(value).items()]
        else:
            lines.append(f"{pad}{f.name}: {_flow(to_plain(value))}")
        if indent == 0:
            lines.append("")


def _flow(value: Any) -> str:
    """A value on one line, in YAML flow style."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=10**6)
    return text.removesuffix("\n...\n").strip()
