"""What a check covered, stated in every report, so a green result is never silent about
having looked at less than the user thinks (one region, no specs, a skipped account)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Silenced:
    """What the specs silenced on purpose, for a report that has no `Scope` (the sweep's):
    resources skipped by `.setpointignore`, changes dropped by path rules or a spec's
    `ignore:`, changes an unexpired exception accepts."""

    ignored: int = 0
    ignored_changes: int = 0
    excepted: int = 0

    def words(self) -> list[str]:
        """ "2 ignored by rule", ... for the counts that are not zero."""
        return [
            f"{n} {what}"
            for n, what in (
                (self.ignored, "ignored by rule"),
                (self.ignored_changes, "change(s) ignored"),
                (self.excepted, "change(s) excepted"),
            )
            if n
        ]


@dataclass(frozen=True)
class Scope:
    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    kinds: tuple[str, ...]
    sources: tuple[str, ...]  # the --specs values, as given
    specs: int  # specs (or declared resources) loaded
    resources_read: int
    # why the regions are these: "--region", "SETPOINT_REGIONS", "the specs' regions", ...
    regions_from: str = ""
    skipped: tuple[str, ...] = field(default_factory=tuple)  # "eu-west-3: opt-in region ..."
    # silenced on purpose (`noise`): resources skipped by `.setpointignore`, changes dropped
    # by path rules or a spec's `ignore:`, changes an unexpired exception accepts
    ignored: int = 0
    ignored_changes: int = 0
    excepted: int = 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "accounts": list(self.accounts),
            "regions": list(self.regions),
            "kinds": list(self.kinds),
            "sources": list(self.sources),
            "specs": self.specs,
            "resources_read": self.resources_read,
            "skipped": list(self.skipped),
            "ignored": self.ignored,
            "ignored_changes": self.ignored_changes,
            "excepted": self.excepted,
        }
        if self.regions_from:
            data["regions_from"] = self.regions_from
        return data

    def properties(self) -> Mapping[str, str]:
        """The same facts as flat strings (JUnit <properties>)."""
        return {
            "setpoint.accounts": ",".join(self.accounts),
            "setpoint.regions": ",".join(self.regions),
            "setpoint.kinds": ",".join(self.kinds),
            "setpoint.sources": ",".join(self.sources),
            "setpoint.specs": str(self.specs),
            "setpoint.resources_read": str(self.resources_read),
            "setpoint.skipped": "; ".join(self.skipped),
        }

    def line(self) -> str:
        """One line for text and markdown reports."""
        regions = ", ".join(self.regions)
        if self.regions_from:
            regions += f" (from {self.regions_from})"
        text = (
            f"Scope: {len(self.accounts)} account(s) {', '.join(self.accounts)}; "
            f"regions {regions}; {len(self.kinds)} kind(s); "
            f"{self.specs} spec(s) from {', '.join(self.sources)}; "
            f"{self.resources_read} resource(s) read"
        )
        quiet = Silenced(self.ignored, self.ignored_changes, self.excepted).words()
        if quiet:
            text += f"; {', '.join(quiet)}"
        if self.skipped:
            text += f"; skipped: {'; '.join(self.skipped)}"
        return text
