"""LIST and UIDL listings held compactly: arrays and one bytes blob, not a dict of objects.

A 60 MiB UIDL listing is ~800,000 lines.  As a list of lines and then a
``dict[int, str]`` it cost about five times its size (issue 12: 64 MiB listings
peaked near 300 MiB): every line, number and string is a Python object of
its own.  Here message numbers and sizes are machine integers in `array`s
and the unique-ids sit back to back in one ``bytes``, so a listing costs
little more than its wire size.  Parsing is streamed per received chunk: only
one chunk's lines exist as objects at a time.

Both listings are read-only `Mapping`s (message number -> size / unique-id),
so callers use them as they used the dicts.  Numbers are looked up by
bisection when the server listed them in ascending order (every server seen
does); otherwise an index is built once.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
from array import array
from collections.abc import ItemsView, Iterator, Mapping, ValuesView

from pop3doctor.protocol.capabilities import parse_scan_line, parse_uidl_line
from pop3doctor.protocol.errors import LineTooLong, ProtocolError
from pop3doctor.protocol.limits import MAX_LINE, MAX_UID

_MAX_NUMBER = 2**32 - 1

# A block of whole lines that is nothing but "number SP value" pairs is
# stored in bulk; anything else (a sign, "_", extra words, tabs, an empty
# line, a number too long for our arrays) takes the line-by-line path with
# its full checks, so both paths accept exactly the same listings.  \S is
# what bytes.split() does not split on.  9 digits keep a number below 2**32.
_SCAN_BLOCK = re.compile(rb"(?:[0-9]{1,9} [0-9]{1,18}\r?\n)*")
_UIDL_BLOCK = re.compile(rb"(?:[0-9]{1,9} \S{1,%d}\r?\n)*" % MAX_UID)


class _Numbers:
    """Message numbers in listing order, found by bisection (or an index when unsorted)."""

    def __init__(self) -> None:
        # 32-bit: message numbers are counts of a mailbox, never near 2**32.
        self.nums = array("I")
        self._sorted = True
        self._index: dict[int, int] | None = None

    def append(self, num: int) -> None:
        if num > _MAX_NUMBER:
            raise ProtocolError(f"message number {num} in a listing is beyond any mailbox")
        if self.nums and num <= self.nums[-1]:
            self._sorted = False
        self.nums.append(num)

    def extend(self, nums: list[int]) -> None:
        """Many numbers at once, each below 10**9 (the bulk patterns allow 9 digits)."""
        after_last = not self.nums or nums[0] > self.nums[-1]
        if not (after_last and all(map(operator.lt, nums, itertools.islice(nums, 1, None)))):
            self._sorted = False
        self.nums.extend(nums)

    def finish(self) -> None:
        if not self._sorted:
            # Later lines win, as with dict(): a repeated number keeps its last value.
            self._index = {num: i for i, num in enumerate(self.nums)}

    def find(self, num: object) -> int:
        if not isinstance(num, int) or num < 0:
            raise KeyError(num)
        if self._index is not None:
            return self._index[num]
        i = bisect.bisect_left(self.nums, num)
        if i == len(self.nums) or self.nums[i] != num:
            raise KeyError(num)
        return i

    def __len__(self) -> int:
        return len(self._index) if self._index is not None else len(self.nums)

    def __iter__(self) -> Iterator[int]:
        if self._index is not None:
            return iter(self._index)
        return iter(self.nums)


class SizeListing(Mapping[int, int]):
    """LIST: message number -> octets."""

    def __init__(self) -> None:
        self._nums = _Numbers()
        self._sizes = array("Q")

    def _add(self, line: bytes) -> None:
        num, size = parse_scan_line(line)
        self._nums.append(num)
        self._sizes.append(size)

    def _add_block(self, block: bytes) -> bool:
        """Whole lines; stored at once when all are plain "num size" pairs, else False."""
        if not _SCAN_BLOCK.fullmatch(block):
            return False
        tokens = block.split()
        self._nums.extend(list(map(int, tokens[0::2])))
        self._sizes.extend(map(int, tokens[1::2]))
        return True

    def __getitem__(self, num: int) -> int:
        return self._sizes[self._nums.find(num)]

    def __iter__(self) -> Iterator[int]:
        return iter(self._nums)

    def __len__(self) -> int:
        return len(self._nums)

    def __repr__(self) -> str:
        return f"<SizeListing of {len(self)} messages>"


class UidListing(Mapping[int, str]):
    """UIDL: message number -> unique-id (decoded from ASCII on each access)."""

    def __init__(self) -> None:
        self._nums = _Numbers()
        # 32-bit offsets: the listing itself is capped at 64 MiB (`limits.MAX_LISTING`).
        self._ends = array("I")
        self._blob = bytearray()

    def _add(self, line: bytes) -> None:
        num, _ = parse_uidl_line(line)  # validates the line and the id's length
        self._nums.append(num)
        self._blob += line.split()[1]
        self._ends.append(len(self._blob))

    def _add_block(self, block: bytes) -> bool:
        """Whole lines; stored at once when all are plain "num uid" pairs, else False."""
        if not _UIDL_BLOCK.fullmatch(block):
            return False
        tokens = block.split()
        uids = tokens[1::2]
        self._nums.extend(list(map(int, tokens[0::2])))
        ends = itertools.accumulate(map(len, uids), initial=len(self._blob))
        self._ends.extend(itertools.islice(ends, 1, None))  # the first is the previous end
        self._blob += b"".join(uids)
        return True

    def _uid(self, i: int) -> str:
        start = self._ends[i - 1] if i else 0
        return self._blob[start : self._ends[i]].decode("ascii", "replace")

    def __getitem__(self, num: int) -> str:
        return self._uid(self._nums.find(num))

    def __iter__(self) -> Iterator[int]:
        return iter(self._nums)

    def __len__(self) -> int:
        return len(self._nums)

    def values(self) -> ValuesView[str]:
        return _UidValues(self)

    def items(self) -> ItemsView[int, str]:
        return _UidItems(self)

    def _pairs(self) -> Iterator[tuple[int, str]]:
        index = self._nums._index
        if index is not None:
            for num, i in index.items():
                yield num, self._uid(i)
        else:
            for i, num in enumerate(self._nums.nums):
                yield num, self._uid(i)

    def __repr__(self) -> str:
        return f"<UidListing of {len(self)} messages>"


class _UidValues(ValuesView[str]):
    _mapping: UidListing

    def __iter__(self) -> Iterator[str]:
        return (uid for _, uid in self._mapping._pairs())


class _UidItems(ItemsView[int, str]):
    _mapping: UidListing

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return self._mapping._pairs()


class ListingParser:
    """Feed a LIST or UIDL body chunk by chunk (`protocol.events.Data`); `close` gives the listing.

    The complete lines of a chunk are matched and split in C calls; when
    they are all plain "number value" pairs they are stored in bulk, else
    line by line with the full checks (`parse_scan_line`, `parse_uidl_line`).
    A 60 MiB LIST of 7 million lines takes seconds either way, but a Python
    step per line would take minutes.
    """

    def __init__(self, listing: SizeListing | UidListing) -> None:
        self._listing = listing
        self._rest = b""

    @classmethod
    def for_command(cls, name: str) -> ListingParser:
        return cls(UidListing() if name == "UIDL" else SizeListing())

    def feed(self, data: bytes) -> None:
        data = self._rest + data
        cut = data.rfind(b"\n") + 1
        self._rest = data[cut:]
        if len(self._rest) > MAX_LINE:
            raise LineTooLong(f"listing line of over {MAX_LINE} octets")
        if cut:
            self._block(data[:cut])

    def _block(self, block: bytes) -> None:
        # A line of the bulk pattern is far below MAX_LINE, so only the line path checks it.
        if not self._listing._add_block(block):
            self._lines(block)

    def _lines(self, block: bytes) -> None:
        for line in block.split(b"\n")[:-1]:
            if len(line) > MAX_LINE:
                raise LineTooLong(f"listing line of {len(line)} octets")
            self._listing._add(line[:-1] if line.endswith(b"\r") else line)

    def close(self) -> SizeListing | UidListing:
        if self._rest.strip():
            self._listing._add(self._rest.rstrip(b"\r"))
        self._rest = b""
        self._listing._nums.finish()
        return self._listing
