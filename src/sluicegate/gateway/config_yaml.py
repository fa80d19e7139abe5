"""YAML → plain values: a config file read into dicts, lists and scalars, with the file:line of every key path.

`read_yaml` gives a `Doc`: the values plus a mark (file, line) for each key and list item, so that a later
check can point at the exact line. `apply_includes` merges LiteLLM's `include:` files into it (lists extended,
other keys replaced), keeping each merged key's own file:line. Duplicate keys and unreadable YAML fail here.

It deliberately knows nothing about what the keys mean: no sections, no validation, no `os.environ/` lookups.
That is `config.py`, which imports this module (never the reverse).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from sluicegate.errors import ConfigError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser when PyYAML was built with libyaml
_MERGE_TAG = "tag:yaml.org,2002:merge"

KeyPath = tuple[str | int, ...]


def located(mark: tuple[str, int]) -> str:
    return f"{mark[0]}:{mark[1]}"


def dotted(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass(slots=True)
class Doc:
    """A YAML file as plain values, plus the file:line of every key and list item."""

    value: dict[str, Any]
    marks: dict[KeyPath, tuple[str, int]] = field(default_factory=dict)


class _Reader:
    """Composes YAML to nodes (to keep line numbers), then builds plain Python values from them."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.marks: dict[KeyPath, tuple[str, int]] = {}
        self._constructor = SafeConstructor()

    def convert(self, node: yaml.Node, at: KeyPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, at)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.marks[(*at, index)] = (self.file, item.start_mark.line + 1)
                items.append(self.convert(item, (*at, index)))
            return items
        return self._constructor.construct_object(node)

    def _mapping(self, node: yaml.MappingNode, at: KeyPath) -> dict[str, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:  # duplicates among the keys written here; `<<:` merges may be overridden
            if key_node.tag != _MERGE_TAG:
                key = self._key(key_node, at)
                if key in seen:
                    self._fail(key_node, f"{dotted((*at, key))}: duplicate key (YAML would keep only the last)")
                seen.add(key)
        try:
            self._constructor.flatten_mapping(node)  # resolves `<<: *anchor` merge keys in place
        except ConstructorError as exc:
            self._fail(exc.problem_mark or node.start_mark, f"{dotted(at) or 'top level'}: {exc.problem}")
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, at)
            self.marks[(*at, key)] = (self.file, key_node.start_mark.line + 1)
            out[key] = self.convert(value_node, (*at, key))
        return out

    def _key(self, node: yaml.Node, at: KeyPath) -> str:
        if not isinstance(node, yaml.ScalarNode):
            self._fail(node, f"{dotted(at) or 'top level'}: a key must be a plain name")
        key = self._constructor.construct_object(node)
        if key is None:
            self._fail(node, f"{dotted(at) or 'top level'}: a key is empty")
        return str(key)

    def _fail(self, where: yaml.Node | yaml.Mark, reason: str) -> NoReturn:
        mark = where.start_mark if isinstance(where, yaml.Node) else where
        raise ConfigError(reason, file=self.file, line=mark.line + 1)


def read_yaml(file: str) -> Doc:
    try:
        with open(file, encoding="utf-8") as stream:
            text = stream.read()
    except FileNotFoundError:
        raise ConfigError("config file not found", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file ({type(exc).__name__})", file=file) from None
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(f"invalid YAML: {exc.problem or exc.context}", file=file,
                          line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML ({type(exc).__name__})", file=file) from None
    if node is None:
        raise ConfigError("the file is empty; expected model_list, litellm_settings, general_settings …", file=file)
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError("expected a mapping at the top (model_list: …, general_settings: …)", file=file,
                          line=node.start_mark.line + 1)
    reader = _Reader(file)
    value = reader.convert(node, ())
    return Doc(value, reader.marks)


def apply_includes(doc: Doc, file: str, warnings: list[str]) -> None:
    """Merge `include:` files as LiteLLM does: lists (model_list) are extended, any other key is replaced."""
    if "include" not in doc.value:
        return
    names = doc.value.pop("include")
    line = doc.marks[("include",)][1]
    if names is None:
        return
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(name, str) and name for name in names):
        raise ConfigError("include: expected a file name or a list of file names", file=file, line=line)
    base = os.path.dirname(file)
    for index, name in enumerate(names):
        included = os.path.join(base, name)
        if not os.path.isfile(included):
            line = doc.marks.get(("include", index), (file, line))[1]
            raise ConfigError(f"include[{index}]: file not found: {included}", file=file, line=line)
        _merge_included(doc, read_yaml(included), included, file, warnings)


def _merge_included(doc: Doc, other: Doc, included: str, file: str, warnings: list[str]) -> None:
    for key, value in other.value.items():
        where = located(other.marks[(key,)])
        if key == "include":  # LiteLLM reads include only from the main file
            warnings.append(f"{where}: include inside an included file is ignored")
            continue
        mine = doc.value.get(key)
        if isinstance(mine, list) and isinstance(value, list):
            offset = len(mine)
            mine.extend(value)
            moved = {(key, path[1] + offset, *path[2:]): mark for path, mark in other.marks.items()
                     if path[0] == key and len(path) > 1 and isinstance(path[1], int)}
            doc.marks.update(moved)
            continue
        if key in doc.value:
            warnings.append(f"{where}: {key} from {included} replaces the one in {file} "
                            "(an include only extends lists, as in LiteLLM)")
        doc.value[key] = value
        doc.marks = {path: mark for path, mark in doc.marks.items() if path[0] != key}
        doc.marks.update({path: mark for path, mark in other.marks.items() if path[0] == key})
