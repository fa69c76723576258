"""Just enough of a streaming JSON parser for files too large to parse whole (a feature film's alignments)."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

from faceswap.core.damage import damaged

WHITESPACE = json.decoder.WHITESPACE  # what JSON skips between values
NUMBER_GOES_ON = re.compile(r"[0-9.eE+-]*")  # all the chunk holds after a value: the value may be a number cut short


class JsonStream:
    """Objects and arrays entered one member at a time, any other value parsed whole by ``json``. The text is read
    in chunks, so memory holds the largest single value (a frame of the alignments file), never the file; what is
    not JSON is damage to ``path``."""

    CHUNK = 1 << 16  # characters read at a time
    LONGEST = 1 << 26  # the longest single value accepted: a frame is a few kilobytes

    def __init__(self, path: Path, file):
        self.path, self.file = path, file
        self.text, self.at = "", 0
        self._decoder = json.JSONDecoder()

    def _more(self) -> bool:
        """Read the next chunk (more if a value has already spanned several); False at the end of the file."""
        if len(self.text) - self.at > self.LONGEST:
            raise damaged(self.path, f"holds a value longer than {self.LONGEST} characters: not a file of ours")
        try:
            chunk = self.file.read(max(self.CHUNK, len(self.text) - self.at))
        except UnicodeDecodeError:
            raise damaged(self.path, "not UTF-8") from None
        self.text, self.at = self.text[self.at:] + chunk, 0
        return bool(chunk)

    def peek(self) -> str:
        """The next character that is not white space ("" at the end of the file), not taken."""
        while True:
            self.at = WHITESPACE.match(self.text, self.at).end()
            if self.at < len(self.text):
                return self.text[self.at]
            if not self._more():
                return ""

    def take(self, characters: str) -> str:
        """The next character, which must be one of ``characters``."""
        char = self.peek()
        if not char or char not in characters:
            raise damaged(self.path, f"not valid JSON, cut short? (expected {' or '.join(characters)} at "
                                     f"{'the end' if not char else repr(char)})")
        self.at += 1
        return char

    def value(self):
        """The whole value that comes next (a number, a string, a frame)."""
        self.peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self.text, self.at)
            except json.JSONDecodeError:
                if self._more():
                    continue
                raise damaged(self.path, "not valid JSON, cut short?") from None
            except RecursionError:
                raise damaged(self.path, "nested too deep to be a file of ours") from None
            if NUMBER_GOES_ON.fullmatch(self.text, end) and self._more():  # "0." of "0.15": read on
                continue
            self.at = end
            return value

    def members(self) -> Iterator[str]:
        """The keys of the object that comes next, one at a time; the caller reads each one's value."""
        self.take("{")
        if self.peek() == "}":
            self.at += 1
            return
        while True:
            if self.peek() != '"':
                self.take('"')
            key = self.value()
            self.take(":")
            yield key
            if self.take(",}") == "}":
                return

    def elements(self) -> Iterator[None]:
        """Once for each element of the array that comes next; the caller reads each one."""
        self.take("[")
        if self.peek() == "]":
            self.at += 1
            return
        while True:
            yield
            if self.take(",]") == "]":
                return
