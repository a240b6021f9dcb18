"""Lead-controlled text on a terminal: shown as typed, never obeyed.

Rich reads no markup from a `Text`, but it passes escape sequences through: a lead named
"\\x1b[2J" would clear the operator's screen. Control characters (and the Unicode marks that
reverse how a line reads) are shown as visible escapes instead.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain(value: Any) -> str:
    """`value` as a string with every control character written as an escape."""
    text = "" if value is None else str(value)
    return _UNSAFE.sub(lambda found: f"\\u{ord(found[0]):04x}" if ord(found[0]) > 0xFF
                       else f"\\x{ord(found[0]):02x}", text)


def shown(value: Any) -> Text:
    """`value` for a rich table or line: escaped, never read as markup."""
    from rich.text import Text

    return Text(plain(value))
