"""Looks for the built-in avatar, kept as data: colours and the hair style, by name.

A look is a plain dict so that a user can copy one, change a colour and pass it to
:class:`visemic.render.avatar.AvatarRenderer` as ``look=my_dict``.
"""

from __future__ import annotations

from typing import Any

# Keys every look has. Colours are "#rrggbb" strings; ``background`` is a top→bottom gradient.
LOOK_KEYS = (
    "skin", "skin_shade", "blush", "hair", "hair_shine", "hair_style", "iris", "lips",
    "shirt", "shirt_shade", "background",
)

LOOKS: dict[str, dict[str, Any]] = {
    "default": {
        "skin": "#f3c9ab", "skin_shade": "#dfa487", "blush": "#f08c84",
        "hair": "#5b3a29", "hair_shine": "#7d563d", "hair_style": "swept",
        "iris": "#4d7fae", "lips": "#c8706c",
        "shirt": "#2f7f8f", "shirt_shade": "#236674",
        "background": ("#eaf1f4", "#c9d9e2"),
    },
    "ada": {
        "skin": "#9a6446", "skin_shade": "#7c4c33", "blush": "#b4584a",
        "hair": "#211816", "hair_shine": "#3d2d28", "hair_style": "bob",
        "iris": "#5a3a22", "lips": "#7f3f3a",
        "shirt": "#e3a93f", "shirt_shade": "#c48c2a",
        "background": ("#f6ecdc", "#e6d2b8"),
    },
    "kit": {
        "skin": "#f7d7c2", "skin_shade": "#e6b39a", "blush": "#f2908a",
        "hair": "#c0602c", "hair_shine": "#dc8048", "hair_style": "bun",
        "iris": "#5c8b45", "lips": "#d07a78",
        "shirt": "#6a58c4", "shirt_shade": "#5444a6",
        "background": ("#e3eedc", "#c4d8bb"),
    },
    "noir": {
        "skin": "#d9b49c", "skin_shade": "#bd937a", "blush": "#d97a72",
        "hair": "#2b2b33", "hair_shine": "#4a4a58", "hair_style": "crop",
        "iris": "#6b5a4a", "lips": "#b0605c",
        "shirt": "#5b6478", "shirt_shade": "#474f60",
        "background": ("#3a4152", "#1f2430"),
    },
}

HAIR_STYLES = ("swept", "bob", "bun", "crop")


def get_look(look: str | dict[str, Any]) -> dict[str, Any]:
    """The look named ``look`` (or a dict completed from "default"); unknown names raise."""
    from visemic.errors import VisemicError

    if isinstance(look, dict):
        merged = dict(LOOKS["default"])
        merged.update(look)
        look_dict = merged
    else:
        key = str(look).lower()
        if key not in LOOKS:
            raise VisemicError(f"unknown avatar look {look!r}; choose from {', '.join(LOOKS)}")
        look_dict = dict(LOOKS[key])
    if look_dict["hair_style"] not in HAIR_STYLES:
        raise VisemicError(f"unknown hair style {look_dict['hair_style']!r}; "
                           f"choose from {', '.join(HAIR_STYLES)}")
    return look_dict
