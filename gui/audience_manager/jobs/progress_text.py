"""A job's progress in words: the one wording of the CLI's progress line and the window's progress bar.

Counted in people (input rows), the unit the user gave; a person is done once every target of the
job has its outcome for them.
"""

from __future__ import annotations

from audience_manager.core.durations import format_duration
from audience_manager.jobs.events import JobState, Progress


def progress_counts(p: Progress) -> str:
    """ "looking up emails: 12,000 of 200,000 subscribers read" while resolving; "1,200 of 3,050
    people (3 failed, 50 skipped)" while writing."""
    if p.state is JobState.RESOLVING and p.resolve_unit:
        verb = "looked up" if p.resolve_unit == "emails" else "read"
        of = f" of {p.resolve_total:,}" if p.resolve_total is not None else ""
        return f"looking up emails: {p.resolved:,}{of} {p.resolve_unit} {verb}"
    what = "looking up emails: " if p.state is JobState.RESOLVING else ""
    return (
        f"{what}{p.people_done:,} of {p.people_total:,} people ({p.failed:,} failed, {p.skipped:,} skipped)"
    )


def progress_rate(p: Progress) -> str:
    """ "980 rows/s, 2 s left" (no time left while cancelling: the rest is not sent)."""
    if p.state is JobState.RESOLVING and p.resolve_unit:
        left = "" if p.resolve_seconds_left is None else f", {format_duration(p.resolve_seconds_left)} left"
        return f"{p.resolve_per_second:,.0f} {p.resolve_unit}/s{left}"
    left = "" if p.seconds_left is None else f", {format_duration(p.seconds_left)} left"
    return f"{p.rows_per_second:,.0f} rows/s{left}"


def describe_progress(p: Progress) -> str:
    return f"{progress_counts(p)}, {progress_rate(p)}"
