"""What an evaluation found: per issue and arm, totals per arm, the difference and how much it shows.

Pure: `RunRecord`s in, numbers, JSON and markdown out. The JSON has the shape

    {"issues": [{"issue": N, "on": ARM, "off": ARM}], "on": ARM, "off": ARM, "note": "..."}

where ARM holds `verdicts` (one per repeat), `green_rate`, `turns`, `cost_usd`, `wall_s`
(means), plus `attempts` (mean), `checks_passed`/`checks_total` (sums) and `runs`. The note
reads the paired repeats with a two-sided sign test: a pair (same issue, same repeat) counts
for recall when on is green and off is not, against it the other way round, ties drop out.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from kagura_engineer.status import Ending, Status, exit_code

ARMS = ("on", "off")
GREEN = "green"
#: The fewest differing pairs a clean sweep needs for p < 0.05 (two-sided: 2 / 2**6 = 0.031).
MIN_PAIRS_FOR_SIGNIFICANCE = 6


@dataclass
class RunRecord:
    """One finished run of one issue in one arm (one repeat)."""

    issue: int
    arm: str
    repeat: int
    verdict: str | None  # green | yellow | red, None when the run ended before the gate
    status: str  # evaluated | blocked | failed | busy
    attempts: int = 0
    turns: int = 0
    cost_usd: float = 0.0
    wall_s: float = 0.0
    checks_passed: int = 0
    checks_total: int = 0
    reason: str = ""
    budget_usd: float | None = None  # the run's budget when the evaluation's --max-usd cut it

    @property
    def outcome(self) -> str:
        """The verdict, or the status when there was none (`failed`, `busy`)."""
        return self.verdict or self.status

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["cost_usd"] = round(self.cost_usd, 6)
        data["wall_s"] = round(self.wall_s, 2)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


@dataclass
class ArmStats:
    """One arm over some runs (one issue's repeats, or every run of the arm)."""

    runs: list[RunRecord] = field(default_factory=list)

    @property
    def verdicts(self) -> list[str]:
        return [r.outcome for r in sorted(self.runs, key=lambda r: (r.issue, r.repeat))]

    @property
    def green_rate(self) -> float:
        return _mean([1.0 if r.verdict == GREEN else 0.0 for r in self.runs])

    def mean(self, name: str) -> float:
        return _mean([float(getattr(r, name)) for r in self.runs])

    def to_json(self) -> dict[str, Any]:
        return {
            "verdicts": self.verdicts,
            "green_rate": round(self.green_rate, 4),
            "turns": round(self.mean("turns"), 3),
            "cost_usd": round(self.mean("cost_usd"), 6),
            "wall_s": round(self.mean("wall_s"), 2),
            "attempts": round(self.mean("attempts"), 3),
            "checks_passed": sum(r.checks_passed for r in self.runs),
            "checks_total": sum(r.checks_total for r in self.runs),
            "runs": len(self.runs),
        }


def sign_test(wins: int, losses: int) -> float:
    """The two-sided sign-test p-value for `wins` against `losses` (ties already dropped)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1))
    return min(1.0, 2 * tail / 2**n)


@dataclass
class Pairs:
    """The paired repeats: (issue, repeat) that ran in both arms."""

    total: int = 0
    wins: int = 0  # on green, off not
    losses: int = 0  # off green, on not

    @property
    def ties(self) -> int:
        return self.total - self.wins - self.losses

    @property
    def p_value(self) -> float:
        return sign_test(self.wins, self.losses)


@dataclass
class Report:
    issues: list[int]
    repeat: int
    records: list[RunRecord]
    spent_usd: float = 0.0
    max_usd: float | None = None
    stopped: str | None = None  # why the evaluation stopped before every run was made
    resumed: int = 0  # runs taken over from an earlier, interrupted evaluation
    plot: str | None = None  # the paired-bars PNG, when one was drawn

    status: ClassVar[Status] = Status.EVALUATED  # busy is an error (BusyError), not a report

    def arm(self, arm: str, issue: int | None = None) -> ArmStats:
        return ArmStats([r for r in self.records if r.arm == arm and (issue is None or r.issue == issue)])

    def pairs(self) -> Pairs:
        by_slot = {(r.issue, r.repeat, r.arm): r for r in self.records}
        pairs = Pairs()
        for (issue, repeat, arm), on in by_slot.items():
            off = by_slot.get((issue, repeat, "off"))
            if arm != "on" or off is None:
                continue
            pairs.total += 1
            if on.verdict == GREEN and off.verdict != GREEN:
                pairs.wins += 1
            elif off.verdict == GREEN and on.verdict != GREEN:
                pairs.losses += 1
        return pairs

    def difference(self) -> dict[str, float]:
        """on − off: green rate (fraction), mean turns, mean cost."""
        on, off = self.arm("on"), self.arm("off")
        return {
            "green_rate": round(on.green_rate - off.green_rate, 4),
            "turns": round(on.mean("turns") - off.mean("turns"), 3),
            "cost_usd": round(on.mean("cost_usd") - off.mean("cost_usd"), 6),
        }

    def note(self) -> str:
        """A plain sentence on what the paired repeats can show."""
        pairs = self.pairs()
        parts: list[str] = []
        if pairs.total == 0:
            parts.append("no issue ran in both arms: nothing to compare")
        elif pairs.wins + pairs.losses == 0:
            parts.append(f"{pairs.total} paired run{'s' if pairs.total != 1 else ''}, none differ in "
                         "being green — no evidence either way")  # fmt: skip
        else:
            n = pairs.wins + pairs.losses
            p = pairs.p_value
            verdict = "significant" if p < 0.05 else "not significant"
            text = (f"recall on was green where off was not in {pairs.wins} of {n} — {verdict} "
                    f"(two-sided sign test over {n} differing paired run{'s' if n != 1 else ''}, p = {p:.2f}")  # fmt: skip
            text += f"; {pairs.ties} tied)" if pairs.ties else ")"
            if p >= 0.05 and n < MIN_PAIRS_FOR_SIGNIFICANCE:
                text += (f"; even a clean sweep needs {MIN_PAIRS_FOR_SIGNIFICANCE} differing pairs for "
                         "p < 0.05, so raise --repeat or add issues")  # fmt: skip
            parts.append(text)
        if self.stopped:
            parts.append(f"stopped early: {self.stopped}")
        return "; ".join(parts)

    @property
    def exit_code(self) -> int:
        return exit_code(self.status)

    def ending(self) -> Ending:
        return Ending(self.status, cost_usd=round(self.spent_usd, 4))

    def to_json(self) -> dict[str, Any]:
        p = self.pairs()
        return {
            "issues": [
                {"issue": n, "on": self.arm("on", n).to_json(), "off": self.arm("off", n).to_json()}
                for n in self.issues
            ],  # fmt: skip
            "on": self.arm("on").to_json(),
            "off": self.arm("off").to_json(),
            "difference": self.difference(),
            "pairs": {
                "total": p.total,
                "on_better": p.wins,
                "off_better": p.losses,
                "ties": p.ties,
                "p_value": round(p.p_value, 4),
            },  # fmt: skip
            "note": self.note(),
            "status": "evaluated",
            "repeat": self.repeat,
            "cost_usd": round(self.spent_usd, 4),
            "max_usd": self.max_usd,
            "stopped": self.stopped,
            "resumed": self.resumed,
            "runs": [r.to_json() for r in sorted(self.records, key=lambda r: (r.issue, r.repeat, r.arm))],
            **({"plot": self.plot} if self.plot else {}),
        }


# -- markdown ---------------------------------------------------------------------------------
def _money(value: float) -> str:
    return "<$0.01" if 0 < value < 0.01 else f"${value:,.2f}"


def _signed(value: float, fmt: str, unit: str = "") -> str:
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    return f"{sign}{unit}{format(abs(value), fmt)}"


def _row(label: str, arm: str, stats: ArmStats, bold: bool = False) -> str:
    b = "**" if bold else ""
    checks = (f"{sum(r.checks_passed for r in stats.runs)}/{sum(r.checks_total for r in stats.runs)}"
              if stats.runs else "—")  # fmt: skip
    cells = [f"{b}{label}{b}", f"{b}{arm}{b}", " ".join(stats.verdicts) or "—",
             f"{stats.green_rate:.0%}" if stats.runs else "—", f"{stats.mean('attempts'):.1f}",
             f"{stats.mean('turns'):.1f}", _money(stats.mean("cost_usd")), f"{stats.mean('wall_s'):.0f}s", checks]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def render_markdown(report: Report) -> str:
    """The table (per issue and arm, totals, the difference) and the note, as markdown."""
    lines = ["### kagura-engineer · eval: recall on vs off", ""]
    facts = [f"{len(report.issues)} issue{'s' if len(report.issues) != 1 else ''}",
             f"{report.repeat} repeat{'s' if report.repeat != 1 else ''} per arm",
             f"spent {_money(report.spent_usd)}" + (f" of {_money(report.max_usd)}" if report.max_usd else "")]  # fmt: skip
    if report.resumed:
        facts.append(
            f"{report.resumed} run{'s' if report.resumed != 1 else ''} kept from an interrupted eval"
        )
    lines += [" · ".join(facts), ""]
    lines += ["| issue | arm | verdicts | green rate | attempts | turns | cost | wall | checks passed |",
              "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for n in report.issues:
        for arm in ARMS:
            lines.append(_row(f"#{n}", arm, report.arm(arm, n)))
    for arm in ARMS:
        lines.append(_row("all", arm, report.arm(arm), bold=True))
    diff = report.difference()
    lines.append(f"| **on − off** | | | {_signed(diff['green_rate'] * 100, '.0f')} pts | | "
                 f"{_signed(diff['turns'], '.1f')} | {_signed(diff['cost_usd'], '.2f', '$')} | | |")  # fmt: skip
    lines += ["", f"_{report.note()}_", ""]
    return "\n".join(lines)
