"""The one description of what each platform's accounts need (`core.platforms`), and the CLI
following it (the form's side is tests/ui/test_account_form.py). Qt-free."""

from __future__ import annotations

import io

import pytest

from audience_manager import cli
from audience_manager.core.accounts import Account, Credentials, missing_fields
from audience_manager.core.platforms import (
    ACCOUNT_KINDS,
    PLATFORMS,
    AccountKind,
    AuthKind,
    PlatformKind,
    UnknownAccountKindError,
    account_kind,
    kinds_of,
)


def test_every_platform_is_described_with_its_kinds() -> None:
    assert set(PLATFORMS) == set(PlatformKind)
    for platform, info in PLATFORMS.items():
        assert info.kind is platform and info.label == platform.label and info.base_url.startswith("https://")
        kinds = kinds_of(platform)
        assert kinds, f"{platform} has no account kind"
        auths = {k.auth for k in kinds}
        assert info.saved_auth in auths
        assert info.default_auth is None or info.default_auth in auths
        if len(kinds) == 1:
            assert info.default_auth is not None  # nothing to choose, so nothing to ask
    assert len({(k.platform, k.auth) for k in ACCOUNT_KINDS}) == len(ACCOUNT_KINDS)


@pytest.mark.parametrize("kind", ACCOUNT_KINDS, ids=lambda k: f"{k.platform}-{k.auth}")
def test_each_kind_names_all_it_needs(kind: AccountKind) -> None:
    assert account_kind(kind.platform, kind.auth) is kind
    assert kind.label and kind.help and kind.token_word and kind.refused_word and kind.fix
    assert bool(kind.token_label) is not kind.signs_in  # a sign-in brings the token itself
    if kind.needs_secret:
        assert kind.secret_word and kind.secret_hint
    location = kind.info.location
    if location is not None:
        assert location.label and location.word and location.hint and location.where


def test_an_unknown_pair_is_refused_with_the_pairs_that_exist() -> None:
    with pytest.raises(UnknownAccountKindError, match="take"):
        account_kind(PlatformKind.HIGHLEVEL, AuthKind.OAUTH)


@pytest.mark.parametrize("kind", ACCOUNT_KINDS, ids=lambda k: f"{k.platform}-{k.auth}")
def test_missing_fields_follow_the_description(kind: AccountKind) -> None:
    account = Account(name="", platform=kind.platform, auth=kind.auth)
    missing = missing_fields(account, Credentials(token=""))
    assert missing[:2] == ["a name", kind.token_word]
    assert (kind.secret_word in missing) is kind.needs_secret
    location = kind.info.location
    assert (location is not None and location.word in missing) is kind.needs_location
    filled = account.with_changes(name="Shop", location_id="loc" if kind.needs_location else "")
    assert missing_fields(filled, Credentials(token="t", secret="s")) == []


def _cli_error(*argv: str) -> str:
    err = io.StringIO()
    code = cli.main(["list", "tags", *argv], stdout=io.StringIO(), stderr=err, environ={"T": "x1234567"})
    assert code == 2
    return err.getvalue()


@pytest.mark.parametrize("platform", list(PlatformKind))
def test_the_cli_asks_for_what_the_description_says(platform: PlatformKind) -> None:
    info = PLATFORMS[platform]
    if info.default_auth is None:
        said = _cli_error("--platform", platform.value, "--token-env", "T")
        assert all(f"--auth {k.auth}" in said for k in kinds_of(platform))
    for kind in kinds_of(platform):
        said = _cli_error("--platform", platform.value, "--auth", kind.auth.value, "--token-env", "T")
        if kind.needs_secret:
            assert f"needs --secret-env VAR ({kind.secret_hint})" in said
        elif info.location is not None:
            assert f"needs --location ID ({info.location.hint})" in said
    others = [a for a in AuthKind if a not in {k.auth for k in kinds_of(platform)}]
    for auth in others:
        said = _cli_error("--platform", platform.value, "--auth", auth.value, "--token-env", "T")
        assert f"not {auth}" in said
