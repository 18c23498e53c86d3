"""One colour per approach, the same on every chart and page.

Colours follow the approach's family on the ladder (core.backends.family) so a
meeting reads it at a glance — prompting blue, RAG green, fine-tuned orange,
classifier grey, anything else purple — and the exact shade is a stable function
of the spec, so an approach keeps its colour across pages and sessions.
"""

from __future__ import annotations

import hashlib
from typing import Iterable

from core.backends import family

SHADES = {  # colour-blind-friendly families (ColorBrewer), dark to light
    "prompting": ["#1f77b4", "#6baed6", "#08519c", "#9ecae1", "#3182bd"],
    "rag": ["#2ca02c", "#74c476", "#006d2c", "#a1d99b", "#31a354"],
    "fine-tuned": ["#ff7f0e", "#fd8d3c", "#d94801", "#fdae6b", "#e6550d"],
    "other": ["#9467bd", "#9e9ac8", "#54278f", "#bcbddc", "#756bb1"],
    "classifier": ["#7f7f7f", "#525252", "#a6a6a6", "#363636", "#bdbdbd"],
}


def _base_spec(name: str) -> str:
    return name.split(" (run ", 1)[0]  # report display names may carry "(run N)"


def color_of(spec: str) -> str:
    shades = SHADES.get(family(_base_spec(spec)), SHADES["classifier"])
    return shades[int(hashlib.md5(_base_spec(spec).encode()).hexdigest(), 16) % len(shades)]


def colors_for(specs: Iterable[str]) -> dict[str, str]:
    """spec -> colour; specs of one kind that would share a shade get the next free one."""
    out: dict[str, str] = {}
    for spec in specs:
        colour = color_of(spec)
        shades = SHADES.get(family(_base_spec(spec)), SHADES["classifier"])
        if colour in out.values():
            free = [c for c in shades if c not in out.values()]
            colour = free[0] if free else colour
        out[spec] = colour
    return out


def altair_scale(specs: Iterable[str]):
    """An altair colour scale with the fixed colours (import altair only when charts are drawn)."""
    import altair as alt

    cmap = colors_for(specs)
    return alt.Scale(domain=list(cmap), range=list(cmap.values()))
