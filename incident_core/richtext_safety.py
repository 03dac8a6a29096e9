"""Outside text made safe to show anywhere, and URLs accepted only as plain http(s) links to a real host.

`clean` drops what no renderer can escape away: direction overrides and isolates (they reorder what
a reader sees, "Trojan Source"), zero-width spaces and byte-order marks (they hide text inside
words), control characters, NUL and lone surrogates (no platform or database accepts them).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, urlsplit

_INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200b\u2060\ufeff\u200e\u200f\u061c]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"
MAX_URL = 2000


def clean(text: str) -> str:
    """The text as a person should read it: invisible reordering and hiding characters removed."""
    text = str(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(text):
        text = _CONTROL.sub("\ufffd", text)
    if text.isascii():
        return text
    text = _INVISIBLE.sub("", text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (from JSON such as "\ud800")
        text = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text


def storable(text: str) -> str:
    """The text with what no database can store (NUL, lone surrogates) replaced by U+FFFD; the rest as sent."""
    if "\x00" in text or not text.isascii() and any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        return "".join("\ufffd" if ch == "\x00" or 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text


def _host(raw: str) -> str | None:
    host = raw.rstrip(".").lower()
    if not host:
        return None
    if host.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1])}]" if host.endswith("]") else None
        except ValueError:
            return None
    try:
        host = host.encode("idna").decode("ascii")  # a look-alike Unicode host is shown as xn--…
    except UnicodeError:
        return None
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        return None
    if labels[-1].isdigit():  # all-numeric last label: only a real dotted IPv4 address
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            return None
    return host


def safe_url(url: object) -> str | None:
    """`url` normalized when it is an http(s) URL with a valid host and no credentials, else None."""
    if not isinstance(url, str):
        return None
    url = clean(url).strip()
    if not url or len(url) > MAX_URL or any(ch.isspace() for ch in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc or parts.hostname is None:
        return None
    raw_host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    host = _host(raw_host)
    if host is None:
        return None
    rest = quote(parts.path, safe=_URL_SAFE)
    if parts.query:
        rest += "?" + quote(parts.query, safe=_URL_SAFE)
    if parts.fragment:
        rest += "#" + quote(parts.fragment, safe=_URL_SAFE)
    built = f"{parts.scheme.lower()}://{host}{f':{port}' if port is not None else ''}{rest}"
    return built if len(built) <= MAX_URL else None


def host_of(url: str) -> str:
    """The host a safe URL points at (what a link shows), with its port when it has one."""
    parts = urlsplit(url)
    return parts.netloc.lower()
