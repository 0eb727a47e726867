"""How long something took or will take, in the one wording the window, the CLI and the preview use."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """ "12 s", "3 min 04 s", "1 h 02 min": precise enough for a job, short enough for a status line."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
