"""Task: what is being solved — the label set, a guideline per label, the instruction.

Every approach renders its prompt from the Task, so that prompting, RAG and
fine-tuning are compared on the same words.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, field_validator


class Label(BaseModel):
    name: str = Field(min_length=1, description="The label string the model must output.")
    description: str = Field(default="", description="The labeling guideline for this label.")


class Task(BaseModel):
    name: str = Field(min_length=1)
    instruction: str = Field(
        default="Classify the text into exactly one of the categories below.",
        description="What the model is asked to do; the first line of every prompt.",
    )
    domain: str = ""
    labels: list[Label] = Field(min_length=2)

    @field_validator("labels")
    @classmethod
    def _unique_labels(cls, labels: list[Label]) -> list[Label]:
        names = [lab.name for lab in labels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate label names: {', '.join(dupes)}")
        return labels

    @property
    def label_names(self) -> list[str]:
        return [lab.name for lab in self.labels]

    def describe(self, label: str) -> str:
        for lab in self.labels:
            if lab.name == label:
                return lab.description
        raise KeyError(label)

    def system_prompt(self, with_descriptions: bool = True) -> str:
        """The system prompt shared by prompting approaches and the fine-tuning export.

        Without descriptions it is the naive prompt: bare label names.
        """
        lines = [self.instruction.strip(), "", "Categories:"]
        for lab in self.labels:
            if with_descriptions and lab.description:
                lines.append(f"- {lab.name}: {lab.description.strip()}")
            else:
                lines.append(f"- {lab.name}")
        lines += ["", "Answer with the category name only."]
        return "\n".join(lines)

    @classmethod
    def load(cls, path: str | Path) -> "Task":
        return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def from_labels(cls, names: list[str], name: str = "Untitled task") -> "Task":
        """A task inferred from a file's labels, with no guidelines yet."""
        return cls(name=name, labels=[Label(name=n) for n in names])
