"""Payflow's name-value pairs (providers.md §3.1): `NAME=value&NAME2=value2`, not URL-encoded.

A value that contains `&` or `=` travels with a length tag, `NAME[len]=value`, and the reader takes exactly `len`
bytes as the value. Lengths count UTF-8 bytes. Used by the adapter and by the sandbox, so both sides read and
write the same syntax; imports nothing from the Django apps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_NAME = re.compile(rb"([A-Za-z0-9_\-]+)(?:\[(\d+)\])?")


class NVPError(ValueError):
    """A body that is not well-formed name-value pairs."""


def needs_length_tag(value: str) -> bool:
    return "&" in value or "=" in value


def encode(params: Mapping[str, object] | Iterable[tuple[str, object]]) -> bytes:
    """Write pairs in order; values holding `&` or `=` get a length tag. None values are left out."""
    items = params.items() if isinstance(params, Mapping) else params
    parts: list[bytes] = []
    for name, value in items:
        if value is None:
            continue
        if not _NAME.fullmatch(name.encode()) or "[" in name:
            raise NVPError(f"not a Payflow parameter name: {name!r}")
        raw = str(value).encode()
        if needs_length_tag(str(value)):
            parts.append(name.encode() + b"[" + str(len(raw)).encode() + b"]=" + raw)
        else:
            parts.append(name.encode() + b"=" + raw)
    return b"&".join(parts)


def decode(body: bytes | str) -> dict[str, str]:
    """Read pairs, honouring length tags. A repeated name keeps its last value. Raises NVPError."""
    data = body.encode() if isinstance(body, str) else body
    result: dict[str, str] = {}
    i, end = 0, len(data)
    while i < end:
        eq = data.find(b"=", i)
        if eq < 0:
            raise NVPError(f"pair without '=' at byte {i}")
        match = _NAME.fullmatch(data[i:eq])
        if match is None:
            raise NVPError(f"bad parameter name at byte {i}: {data[i:eq][:40]!r}")
        name = match[1].decode()
        if match[2] is not None:
            length = int(match[2])
            value = data[eq + 1 : eq + 1 + length]
            if len(value) != length:
                raise NVPError(f"{name}: the length tag says {length} bytes, {len(value)} follow")
            i = eq + 1 + length
            if i < end and data[i : i + 1] != b"&":
                raise NVPError(f"{name}: no '&' after the {length} tagged bytes")
        else:
            amp = data.find(b"&", eq + 1)
            stop = end if amp < 0 else amp
            value = data[eq + 1 : stop]
            i = stop
        try:
            result[name] = value.decode()
        except UnicodeDecodeError as exc:
            raise NVPError(f"{name}: not UTF-8") from exc
        i += 1  # the '&'
    return result
