"""A tally of the unreadable videos the training pipeline skipped, with a warning the first time each is met."""

import logging
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass
class BadFileReport:
    """How often each unreadable video was skipped, and why (the reading error's one-line message)."""

    counts: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def record(self, path: str, reason: str) -> None:
        """Count one skip of ``path``; the first skip of a path logs a warning with ``reason``, which names the file."""
        if path not in self.counts:
            logger.warning("skipping unreadable video: %s", reason)
        self.counts[path] = self.counts.get(path, 0) + 1
        self.reasons[path] = reason

    @property
    def total_skips(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line per unreadable video, most skipped first, under a headline with the totals."""
        if not self.counts:
            return "no unreadable videos"
        lines = [f"{len(self.counts)} unreadable video(s), skipped {self.total_skips} time(s):"]
        for path in sorted(self.counts, key=lambda name: (-self.counts[name], name)):
            lines.append(f"  {self.counts[path]}x {self.reasons[path]}")
        return "\n".join(lines)

    def to_state(self) -> dict[str, list]:
        """A JSON-serializable form for checkpoints: path -> [count, reason]."""
        return {path: [count, self.reasons[path]] for path, count in self.counts.items()}

    @classmethod
    def from_state(cls, state: dict[str, list]) -> "BadFileReport":
        return cls(
            counts={path: int(count) for path, (count, _) in state.items()},
            reasons={path: str(reason) for path, (_, reason) in state.items()},
        )
