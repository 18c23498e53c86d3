"""The Train page's hyperparameter inputs, derived from the typed options (core/training/options.py).

Each field becomes one input: a checkbox for a flag, a select box for a fixed
choice, a text box for "auto"-or-a-number, a number box otherwise. The field's
description is the input's help text. The page only draws what this describes.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from core.training.options import options_class


@dataclass(frozen=True)
class OptionInput:
    name: str
    label: str
    widget: Literal["checkbox", "select", "text", "number"]
    default: Any
    help: str
    choices: tuple = ()          # select: the values; text: the words accepted besides a number ("auto")
    free_text: bool = False      # text: any string is a value
    step: float | int | None = None
    format: str | None = None    # number: None for integers, "%g" for floats

    def parse(self, raw: str):
        """A text input's value: one of the choices, free text, or else a number (int before float).
        What is none of these is passed on as typed: the options' validation names the field."""
        raw = raw.strip()
        if raw in self.choices or self.free_text:
            return raw
        for kind in (int, float):
            try:
                return kind(raw)
            except ValueError:
                pass
        return raw


def _kinds(annotation) -> tuple[set, tuple]:
    """(plain types allowed, literal values allowed) of a field annotation."""
    plain, literals = set(), ()
    union = isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union
    for arg in typing.get_args(annotation) if union else (annotation,):
        if typing.get_origin(arg) is typing.Literal:
            literals += typing.get_args(arg)
        else:
            plain.add(arg)
    return plain, literals


def option_inputs(backend: str) -> list[OptionInput]:
    """One input per hyperparameter of this backend, in the options' field order."""
    inputs = []
    for name, field in options_class(backend).model_fields.items():
        label, default, help_ = name.replace("_", " ").capitalize(), field.default, field.description or ""
        plain, literals = _kinds(field.annotation)
        if plain == {bool}:
            inputs.append(OptionInput(name, label, "checkbox", default, help_))
        elif literals and not plain - {type(None)}:
            inputs.append(OptionInput(name, label, "select", default, help_, choices=literals))
        elif literals or plain == {str}:  # "auto" or a number, or free text
            inputs.append(OptionInput(name, label, "text", str(default), help_, choices=literals,
                                      free_text=plain == {str}))
        else:
            is_int = int in plain
            inputs.append(OptionInput(
                name, label, "number", default, help_ + (" Empty: automatic." if type(None) in plain else ""),
                step=1 if is_int else (default / 2 if default else 0.1), format=None if is_int else "%g"))
    return inputs


def refused_fields(exc: ValidationError) -> str:
    """A refused set of hyperparameters in one line, each problem with its field: '**epochs**: …; **r**: …'."""
    return "; ".join(f"**{'.'.join(map(str, e['loc']))}**: {e['msg']}" for e in exc.errors())
