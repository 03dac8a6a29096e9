"""Log-line shapes turned into the words a runbook would use.

A log line carries its meaning inside a shape that depends on the program: logfmt fields (Prometheus,
Alertmanager, the operator, go-kit), a syslog prefix with a host and a program, a dmesg clock, escaped
quotes from klog's structured form, Java class names with their package, kernel device names. Each
function here removes a shape's noise or spells out what its identifiers mean; `query.from_log` applies
them to every line before the generic clean-up (timestamps, ids, levels).
"""

from __future__ import annotations

import re

from knowledge.markdown import split_camel

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
# "May  3 12:30:00 node-2 kernel: [99812.4] eth0: …" → "kernel: eth0: …" (the host is dropped, the program kept)
_SYSLOG = re.compile(rf"^\s*{_MONTH}\s+\d{{1,2}}\s+\d{{2}}:\d{{2}}:\d{{2}}\s+\S+\s+([\w./-]+?)(?:\[\d+\])?:\s*")
_DMESG_CLOCK = re.compile(r"^\s*\[\s*\d+\.\d+\]\s*")
# keys start a token and are short, quoted values bounded: no quadratic backtracking on long untrusted lines
_LOGFMT_PAIR = re.compile(r'(?<![\w.-])([A-Za-z_][\w.-]{0,63})=("(?:[^"\\]|\\.){0,2000}"|\S*)')
_MAX_LINE = 2000
_LOGFMT_MESSAGE = ("msg", "message", "err", "error")
_LOGFMT_NOISE = frozenset({"ts", "time", "t", "level", "lvl", "caller", "source", "logger", "func", "trace_id", "traceid",
                           "span_id", "request_id", "req_id", "pid", "host", "hostname", "instance", "pod"})
# "java.util.concurrent.TimeoutException" → "TimeoutException"; stack frames are dropped elsewhere
_QUALIFIED_CLASS = re.compile(r"\b(?:[a-z_][a-z0-9_]*\.){2,}([A-Z][A-Za-z0-9_$]*)")
_CAMEL_WORD = re.compile(r"\b[A-Za-z][a-z0-9]*(?:[A-Z][a-z0-9]+){1,}[A-Za-z0-9]*\b")
_NETWORK_DEVICE = re.compile(r"\b(?:eth\d+|en[ops]\w+|enx[0-9a-f]+|wlan\d+|bond\d+|ib\d+)\b:?")
_DISK_DEVICE = re.compile(r"\b(?:sd[a-z]{1,2}\d*|nvme\d+n\d+(?:p\d+)?|vd[a-z]\d*|xvd[a-z]\d*)\b:?")
_POSTGRES_FIELD = re.compile(r"\b(?:LOG|DETAIL|HINT|STATEMENT|CONTEXT|QUERY|PANIC|LOCATION):\s")


def normalize_line(line: str) -> str:
    """One raw log line (its first 2,000 characters) with its shape's noise removed and its identifiers spelled out."""
    line = line[:_MAX_LINE]
    line = _DMESG_CLOCK.sub("", _SYSLOG.sub(r"\1: ", line.replace('\\"', '"')))
    line = _DMESG_CLOCK.sub("", re.sub(r"^(\S+:\s*)\[\s*\d+\.\d+\]\s*", r"\1", line))
    fields = logfmt_fields(line)
    if fields is not None:
        line = logfmt_text(fields)
    line = _POSTGRES_FIELD.sub(" ", line)
    line = _QUALIFIED_CLASS.sub(r"\1", line)
    return spell_devices(spell_identifiers(line))


def logfmt_fields(line: str) -> list[tuple[str, str]] | None:
    """The key=value pairs of a logfmt line, or None when the line is not mostly pairs."""
    pairs = [(m.group(1), m.group(2)) for m in _LOGFMT_PAIR.finditer(line)]
    if len(pairs) < 3:
        return None
    covered = sum(len(m.group(0)) for m in _LOGFMT_PAIR.finditer(line))
    if covered < 0.7 * len(line.replace(" ", "")):
        return None
    return [(key, value[1:-1] if value.startswith('"') and value.endswith('"') and len(value) > 1 else value)
            for key, value in pairs]


def logfmt_text(fields: list[tuple[str, str]]) -> str:
    """The message and error first, then the other fields as 'key value' (noise keys and empty values dropped)."""
    lowered = [(key.lower(), value) for key, value in fields if value]
    first = [value for key, value in lowered if key in _LOGFMT_MESSAGE]
    rest = [value if key == "component" else f"{key.replace('_', ' ')} {value}"
            for key, value in lowered if key not in _LOGFMT_MESSAGE and key not in _LOGFMT_NOISE]
    return " ".join(first + rest)


def spell_identifiers(line: str) -> str:
    """CamelCase identifiers get their words beside them: 'CrashLoopBackOff (crash loop back off)'."""
    def spell(match: re.Match[str]) -> str:
        word = match.group(0)
        words = split_camel(word)
        return word if words.lower() == word.lower() else f"{word} ({words.lower()})"

    return _CAMEL_WORD.sub(spell, line)


def spell_devices(line: str) -> str:
    """Kernel device names say what they are: 'eth0' → 'eth0 network interface', 'sdb1' → 'sdb1 disk'."""
    return _name_after(_DISK_DEVICE, "disk", _name_after(_NETWORK_DEVICE, "network interface", line))


def _name_after(pattern: re.Pattern[str], what: str, line: str) -> str:
    """Each match of pattern followed by what it is, before its colon if it has one ('eth0:' → 'eth0 X:')."""
    def name(match: re.Match[str]) -> str:
        found = match.group(0)
        colon = ":" if found.endswith(":") else ""
        return f"{found.rstrip(':')} {what}{colon}"

    return pattern.sub(name, line)
