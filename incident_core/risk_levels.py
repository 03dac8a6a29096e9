"""Risk levels, the raise-only rule and the verdict one command part gets from the policy."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class RiskLevel(StrEnum):
    """Risk of running something, ordered read-only < low < medium < high (comparisons use that order)."""

    READ_ONLY = "read-only"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """0 for read-only … 3 for high."""
        return list(RiskLevel).index(self)

    @property
    def needs_confirmation(self) -> bool:
        """Medium and high need an explicit confirmation before running."""
        return self.rank >= 2

    @property
    def needs_approval(self) -> bool:
        """High needs a commander's approval (a second person)."""
        return self is RiskLevel.HIGH

    def __lt__(self, other: object) -> bool:
        return self.rank < RiskLevel(other).rank  # type: ignore[arg-type]

    def __le__(self, other: object) -> bool:
        return self.rank <= RiskLevel(other).rank  # type: ignore[arg-type]

    def __gt__(self, other: object) -> bool:
        return self.rank > RiskLevel(other).rank  # type: ignore[arg-type]

    def __ge__(self, other: object) -> bool:
        return self.rank >= RiskLevel(other).rank  # type: ignore[arg-type]


R, L, M, H = RiskLevel.READ_ONLY, RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH


def raise_only(policy_level: RiskLevel, proposed: RiskLevel | str | None) -> RiskLevel:
    """The policy level, raised to `proposed` if that is riskier; an unknown proposal changes nothing."""
    try:
        return max(RiskLevel(policy_level), RiskLevel(proposed or policy_level))
    except ValueError:
        return RiskLevel(policy_level)


class Verdict(NamedTuple):
    """The policy's verdict on one part of a command: level, what it does, undo, and whether it is refused."""

    level: RiskLevel
    what: str
    reversible: bool = False
    undo: str | None = None
    refused: bool = False

    def worse(self, other: Verdict) -> Verdict:
        """The riskier of two verdicts (refused beats high; the first wins a tie)."""
        return other if (other.refused, other.level.rank) > (self.refused, self.level.rank) else self


def high(what: str) -> Verdict:
    """A high-risk, irreversible verdict."""
    return Verdict(H, what)


def refuse(what: str) -> Verdict:
    """A verdict the policy will not run at all, whoever approves it."""
    return Verdict(H, what, refused=True)
