"""Pydantic's validation errors as one ``ConfigError`` naming each setting by dotted name."""

from __future__ import annotations

from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from redact.errors import ConfigError


def leaf_names(model: type[BaseModel]) -> list[str]:
    """Every setting of ``model`` by dotted name, sections expanded, in field order."""
    out: list[str] = []
    for name, info in model.model_fields.items():
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            out += [f"{name}.{n}" for n in leaf_names(sub)]
        else:
            out.append(name)
    return out


_RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def config_error(exc: ValidationError, model: type[BaseModel]) -> ConfigError:
    """One ``ConfigError`` for pydantic's errors, each naming the setting by dotted name."""
    messages: list[str] = []
    for err in exc.errors():
        text = _message(err, model)
        if text not in messages:
            messages.append(text)
    return ConfigError("; ".join(messages))


def _message(err: Any, model: type[BaseModel]) -> str:
    name, info = _field_at(err["loc"], model)
    kind, value = err["type"], err.get("input")
    if kind == "value_error":  # our own validators' messages name their settings
        return str(err["ctx"]["error"])
    if kind == "extra_forbidden":
        return f"unknown setting {name!r}; known settings: {', '.join(_known(model))}"
    if kind == "literal_error" and info is not None:
        allowed = ", ".join(map(str, get_args(info.annotation)))
        return f"{name} must be one of {allowed}; got {value!r}"
    if kind in _RANGE_ERRORS and info is not None:
        return f"{name} must be {_allowed(info)}, got {value}"
    return f"setting {name!r}: cannot use {value!r} ({err['msg']})"


def _field_at(loc: tuple[Any, ...], model: type[BaseModel]) -> tuple[str, FieldInfo | None]:
    """The dotted name and field of an error's location (past a union member's tag or a
    tuple index, which name no field)."""
    names = [model.category] if getattr(model, "category", "") else []
    info: FieldInfo | None = None
    current: Any = model
    for i, part in enumerate(loc):
        known = current.model_fields if isinstance(current, type) and \
            issubclass(current, BaseModel) else {}
        if part not in known:
            if known:  # an unknown key of a model: name it as given
                names += [str(p) for p in loc[i:]]
            break
        names.append(str(part))
        info = known[part]
        current = info.annotation
    return ".".join(names), info


def _allowed(info: FieldInfo) -> str:
    """A numeric setting's constraints in words: "between 0 and 1 (exclusive)", or for a
    union, each member's: "0 (off) or between 64 and 4096"."""
    spans = [info.metadata]
    for member in get_args(info.annotation):
        if get_origin(member) is Annotated:
            spans += [m.metadata for m in get_args(member)[1:] if isinstance(m, FieldInfo)]
    return " or ".join(text for text in map(_span, spans) if text)


def _span(metadata: list[Any]) -> str:
    bound = {k: getattr(m, k) for m in metadata for k in ("gt", "ge", "lt", "le")
             if hasattr(m, k)}
    lo, hi = bound.get("gt", bound.get("ge")), bound.get("lt", bound.get("le"))
    if lo is None or hi is None:
        return ""
    if lo == hi:
        return f"{lo:g} (off)"
    text = f"between {lo:g} and {hi:g}"
    if "gt" in bound and "lt" in bound:
        return f"{text} (exclusive)"
    if "gt" in bound or "lt" in bound:
        return f"{text} (exclusive of {bound.get('gt', bound.get('lt')):g})"
    return text



def _known(model: type[BaseModel]) -> list[str]:
    prefix = getattr(model, "category", "")
    return [f"{prefix}.{n}" if prefix else n for n in leaf_names(model)]
