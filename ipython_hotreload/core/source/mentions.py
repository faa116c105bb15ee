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

Each text is summarised once as a Bloom filter in one bytes object (no per-identifier
objects for the collector to walk): a false "maybe" costs the full look it would have had
anyway, a "no" is certain.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["Mentions", "Probe", "mentions_of"]

# Bytes from 0x80 are those of non-ASCII characters in UTF-8: `π`, `café` are names too.
_IDENTIFIER = re.compile(rb"[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*")
_STAR = re.compile(rb"\bimport\s*\*|\bimport\s*\(\s*\*")
# Sized to each text: 16 bits per distinct identifier and 3 probes give about 0.5% false
# "maybe" per name part, for the 3,000 words of a big module with long docstrings as for a
# small one (a fixed size let one name in ten through on networkx's biggest modules).
_BITS_PER_WORD = 16
_MIN_BITS, _MAX_BITS = 1 << 10, 1 << 21


def _probes(word: bytes, mask: int) -> tuple[int, int, int]:
    # Three slices of the process's own 64-bit hash (summaries never leave the process;
    # crc32 and adler32 probes clustered on similar identifiers).
    h = hash(word)
    return h & mask, (h >> 21) & mask, (h >> 42) & mask


class Mentions:
    """The identifiers one text mentions (a Bloom filter of ``size`` bits, in bytes: no
    objects for the collector to walk), and whether it star-imports."""

    __slots__ = ("bloom", "size", "star")

    def __init__(self, bloom: bytes, star: bool, size: int) -> None:
        self.bloom = bloom
        self.star = star
        self.size = size

    def may_mention(self, name: str) -> bool:
        """Could the text spell ``name`` (a dotted name: each of its parts but its dunders,
        which Python calls without their being spelt: a class statement calls its bases'
        ``__init_subclass__``, making an instance calls ``__init__``)?"""
        bloom, size = self.bloom, self.size
        for part in name.split("."):
            if not _spelt(part):
                continue
            for bit in _probes(part.encode(), size - 1):
                if not bloom[bit >> 3] & (1 << (bit & 7)):
                    return False
        return True

    def may_read_any(self, names: Iterable[str] | Probe) -> bool:
        """Could the text read one of ``names`` (markers like ``<import m>`` aside)? A
        :class:`Probe` of them asks the same of many texts at less cost."""
        if self.star:
            return True
        if not isinstance(names, Probe):
            return any(self.may_mention(n) for n in names if not n.startswith("<"))
        bloom, mask = self.bloom, self.size - 1
        for hashes in names.names:
            for h in hashes:
                a, b, c = h & mask, (h >> 21) & mask, (h >> 42) & mask
                if not (
                    bloom[a >> 3] & (1 << (a & 7))
                    and bloom[b >> 3] & (1 << (b & 7))
                    and bloom[c >> 3] & (1 << (c & 7))
                ):
                    break
            else:
                return True  # every part of this name may be spelt
        return False


class Probe:
    """Names to ask many summaries about, hashed once: for each name (markers like
    ``<import m>`` aside), the hashes of the parts a text must spell to read it."""

    __slots__ = ("names",)

    def __init__(self, names: Iterable[str]) -> None:
        self.names = [
            tuple(hash(part.encode()) for part in name.split(".") if _spelt(part))
            for name in names
            if not name.startswith("<")
        ]


def _spelt(part: str) -> bool:
    """Must a text spell this part of a name to read it? Not a dunder (Python calls those
    implicitly) and not ``()`` (``f.()``: what ``f`` returned, spelt ``f``)."""
    return bool(part) and part != "()" and not (part.startswith("__") and part.endswith("__"))


def mentions_of(data: bytes) -> Mentions:
    """The summary of one module text."""
    words = set(_IDENTIFIER.findall(data))
    for word in [w for w in words if not w.isascii()]:
        # Python names the identifier it reads by its NFKC form (`ﬁle` binds `file`).
        text = word.decode("utf-8", "ignore")
        words.add(unicodedata.normalize("NFKC", text).encode())
    size = _MIN_BITS
    while size < _BITS_PER_WORD * len(words) and size < _MAX_BITS:
        size <<= 1
    mask = size - 1
    bloom = bytearray(size >> 3)
    for word in words:
        h = hash(word)
        for bit in (h & mask, (h >> 21) & mask, (h >> 42) & mask):
            bloom[bit >> 3] |= 1 << (bit & 7)
    return Mentions(bytes(bloom), _STAR.search(data) is not None, size)
