"""Which names a module's text mentions, kept small: a cheap first answer to "could this
dependent read at import time what changed?".

A statement can read a name (directly, through an alias, an attribute chain or one of the
module's own functions) only if its text spells it: the import that binds it, the attribute
read, the function that reads it. Dunder parts are the exception: Python calls them
implicitly (``Base.__init_subclass__`` by ``class C(Base)``), so only a name's other parts
must be spelt. So a compile dependent whose text mentions none of the
names that changed in the modules it follows cannot run anything, and is left alone without
being parsed or indexed: on a real code base most dependents of an edited hub are. A text
that star-imports (``from m import *``) is always looked at: what it binds is not spelt.

Each text is summarised once as a Bloom filter in one integer (no per-identifier objects for
the collector to walk): a false "maybe" costs the full look it would have had anyway, a
"no" is certain.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

__all__ = ["Mentions", "mentions_of"]

_IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_STAR = re.compile(rb"\bimport\s*\*|\bimport\s*\(\s*\*")
_BITS = 1 << 13  # bits of the filter: about 1% false "maybe" for a 500-identifier text


def _bits_of(word: bytes) -> int:
    h1 = zlib.crc32(word)
    h2 = zlib.adler32(word)
    return (1 << (h1 % _BITS)) | (1 << (h2 % _BITS))


class Mentions:
    """The identifiers one text mentions (a Bloom filter), and whether it star-imports."""

    __slots__ = ("bloom", "star")

    def __init__(self, bloom: int, star: bool) -> None:
        self.bloom = bloom
        self.star = star

    def may_mention(self, name: str) -> bool:
        """Could the text spell ``name`` (a dotted name: each of its parts but its dunders,
        which Python calls without their being spelt: a class statement calls its bases'
        ``__init_subclass__``, making an instance calls ``__init__``)?"""
        bloom = self.bloom
        for part in name.split("."):
            if not part or (part.startswith("__") and part.endswith("__")):
                continue
            bits = _bits_of(part.encode())
            if bloom & bits != bits:
                return False
        return True

    def may_read_any(self, names: Iterable[str]) -> bool:
        """Could the text read one of ``names`` (markers like ``<import m>`` aside)?"""
        return self.star or any(self.may_mention(n) for n in names if not n.startswith("<"))


def mentions_of(data: bytes) -> Mentions:
    """The summary of one module text."""
    bloom = 0
    for word in set(_IDENTIFIER.findall(data)):
        bloom |= _bits_of(word)
    return Mentions(bloom, _STAR.search(data) is not None)
