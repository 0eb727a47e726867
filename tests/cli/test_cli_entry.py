"""The console entry: which arguments open the GUI, which run headless, and the pieces of output."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from audience_manager import __version__, cli
from audience_manager.cli import apply, common
from audience_manager.core.actions import Action, Target, TargetKind
from audience_manager.core.identifiers import IdentifierKind
from audience_manager.core.platforms import Capabilities, PlatformKind, RateLimit
from audience_manager.jobs.events import JobState, Progress


@pytest.mark.parametrize(
    ("argv", "headless"),
    [
        ([], False),
        (["--smoke"], False),
        (["--demo"], False),
        (["--version"], True),
        (["-h"], True),
        (["apply", "--help"], True),
        (["demo"], True),
        (["--verbose", "list", "tags"], True),
        (["sandbox", "--port", "0"], True),
        (["jobs", "list"], True),
        (["some-file.csv"], False),
        (["-platform", "offscreen"], False),
        (["aply", "--platform", "kit-v4"], True),  # a typo gets argparse's "invalid choice", not a window
    ],
)
def test_which_arguments_run_headless(argv: list[str], headless: bool) -> None:
    assert cli.wants_cli(argv) is headless


def test_version_and_commands_never_import_qt() -> None:
    code = (
        "import sys\n"
        "from audience_manager.__main__ import main\n"
        "rc = main(['--version'])\n"
        "assert rc == 0, rc\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'qasync'))]\n"
        "assert not bad, bad\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"audience-manager {__version__}"


def test_unknown_option_is_a_usage_error_without_traceback() -> None:
    err = io.StringIO()
    assert cli.main(["apply", "--frobnicate"], stdout=io.StringIO(), stderr=err, environ={}) == 2
    assert err.getvalue().startswith("audience-manager: error:")
    assert "Traceback" not in err.getvalue()


def test_token_is_never_an_argument() -> None:
    err = io.StringIO()
    code = cli.main(
        ["list", "tags", "--platform", "kit-v4", "--auth", "oauth", "--token", "abc"],
        stdout=io.StringIO(),
        stderr=err,
        environ={},
    )
    assert code == 2 and "abc" not in err.getvalue()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--platform", "kit-v4"], "needs --auth oauth or --auth api-key"),
        (["--platform", "kit-v4", "--auth", "legacy-key"], "takes --auth oauth or api-key"),
        (["--platform", "kit-v3"], "needs --secret-env VAR"),
        (["--platform", "highlevel"], "needs --location ID"),
    ],
)
def test_connection_options_are_checked(argv: list[str], message: str) -> None:
    err = io.StringIO()
    code = cli.main(
        ["list", "tags", *argv, "--token-env", "T"], stdout=io.StringIO(), stderr=err, environ={"T": "x1"}
    )
    assert code == 2
    assert message in err.getvalue()


def test_an_action_the_platform_lacks_is_refused_with_its_reason() -> None:
    caps = Capabilities(
        actions=frozenset({Action.TAG}),
        identifiers=frozenset({IdentifierKind.EMAIL}),
        items_per_request=1,
        rate=RateLimit(120, 60),
        missing={Action.SET_FIELD: "API v3 has no custom field writes; use Kit API v4."},
    )
    apply.check_action(Action.TAG, caps, PlatformKind.KIT_V3)
    with pytest.raises(common.UsageError, match="cannot set custom field: API v3 has no custom field writes"):
        apply.check_action(Action.SET_FIELD, caps, PlatformKind.KIT_V3)


def test_targets_match_by_id_name_or_key_case_insensitively() -> None:
    tags = [Target(TargetKind.TAG, "11", "VIP"), Target(TargetKind.TAG, "12", "Customer 2026")]
    assert apply.match_targets(["vip", "12", "VIP"], tags, TargetKind.TAG) == (tags[0], tags[1])
    fields = [Target(TargetKind.FIELD, "7", "Last name", key="last_name")]
    assert apply.match_targets(["LAST_NAME"], fields, TargetKind.FIELD) == (fields[0],)
    with pytest.raises(common.UsageError) as error:
        apply.match_targets(["customer", "nope"], tags, TargetKind.TAG)
    message = str(error.value)
    assert "no tag named or numbered 'customer'. Did you mean: Customer 2026?" in message
    assert "'nope'" in message and "list tags" in message


def _progress(done: int, state: JobState = JobState.RUNNING) -> Progress:
    # One target: people and row x target outcomes count the same.
    return Progress(done, 1000, done, 0, 3, 0, 50.0, (1000 - done) / 50, state, done, 1000)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_line_every_few_seconds_when_not_a_terminal() -> None:
    out, clock = io.StringIO(), _Clock()
    line = common.ProgressLine(out, clock=clock)
    for second in range(1, 13):
        clock.now = float(second)
        line.update(_progress(second * 50))
    lines = out.getvalue().splitlines()
    assert lines == [
        "250 of 1,000 people (3 failed, 0 skipped), 50 rows/s, 15 s left",
        "500 of 1,000 people (3 failed, 0 skipped), 50 rows/s, 10 s left",
    ]


def test_progress_line_is_rewritten_in_place_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out, clock = Tty(), _Clock()
    line = common.ProgressLine(out, clock=clock)
    for step in range(1, 4):
        clock.now = step * 0.5
        line.update(_progress(step * 10, JobState.RESOLVING))
    line.close()
    text = out.getvalue()
    assert "\n" not in text and text.count("\r") == 4
    assert "looking up emails: 30 of 1,000 people" in text


def test_durations_read_like_a_person_would_say_them() -> None:
    assert [common.format_duration(s) for s in (0, 59.4, 61, 3600, 7322)] == [
        "0 s",
        "59 s",
        "1 min 01 s",
        "1 h 00 min",
        "2 h 02 min",
    ]


def test_exit_codes() -> None:
    from audience_manager.core.outcomes import Outcome, RowOutcome

    def result(*outcomes: Outcome, state: JobState = JobState.FINISHED) -> common.JobResult:
        return common.JobResult(
            [RowOutcome(i, "1", "t", o, target_id="1") for i, o in enumerate(outcomes)], state, ""
        )

    assert common.exit_code(result(Outcome.SUCCEEDED, Outcome.UNCHANGED, Outcome.SKIPPED)) == 0
    assert common.exit_code(result(Outcome.SUCCEEDED, Outcome.FAILED)) == 1
    assert common.exit_code(result(Outcome.SUCCEEDED, Outcome.CANCELLED, state=JobState.CANCELLED)) == 1
    assert common.exit_code(result(Outcome.FAILED, state=JobState.FAILED)) == 2
