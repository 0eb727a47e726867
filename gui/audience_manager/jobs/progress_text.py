"""A job's progress in words, for the CLI's progress line and the window's status (one wording)."""

from __future__ import annotations

from audience_manager.jobs.events import JobState, Progress


def describe_progress(p: Progress) -> str:
    """ "looking up emails: 12,000 of 200,000 subscribers read, 1,000/s, 3 min 8 s left" while
    resolving; "1,200/3,050 rows (3 failed, 50 skipped), 980 rows/s, 2 s left" while writing."""
    if p.state is JobState.RESOLVING and p.resolve_unit:
        verb = "looked up" if p.resolve_unit == "emails" else "read"
        of = f" of {p.resolve_total:,}" if p.resolve_total is not None else ""
        left = "" if p.resolve_seconds_left is None else f", {format_duration(p.resolve_seconds_left)} left"
        return (
            f"looking up emails: {p.resolved:,}{of} {p.resolve_unit} {verb}, "
            f"{p.resolve_per_second:,.0f} {p.resolve_unit}/s{left}"
        )
    left = "" if p.seconds_left is None else f", {format_duration(p.seconds_left)} left"
    what = "looking up emails: " if p.state is JobState.RESOLVING else ""
    return (
        f"{what}{p.done:,}/{p.total:,} rows ({p.failed:,} failed, {p.skipped:,} skipped), "
        f"{p.rows_per_second:,.0f} rows/s{left}"
    )


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
