"""`audience-manager accounts add|list|test|remove`: the same saved accounts as the app.

Names and addresses go to the settings file, secrets to the OS keyring only. Secrets still come in
only through environment variables (`--token-env VAR`), or, for a kind that signs in (Kit OAuth),
through the browser sign-in. With no working keyring the command line refuses to save (it has no
"session" to keep a token in) and says how to fix the keyring or how to pass the token for one run
instead. What each platform's account needs is read from its description (`core.platforms`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import webbrowser
from collections.abc import Callable, Mapping
from typing import IO

import httpx

from audience_manager.api.oauth import OAuthConfig, SignInError, sign_in
from audience_manager.api.redaction import register_secret
from audience_manager.cli.common import (
    EXIT_OK,
    PROG,
    Streams,
    Subcommands,
    UsageError,
    load_secret,
    saved_account,
    secret_from,
    verbose_option,
)
from audience_manager.core.accounts import KIT_OAUTH_AUTHORIZE_URL, KIT_OAUTH_TOKEN_URL, Account, Credentials
from audience_manager.core.platforms import (
    ACCOUNT_KINDS,
    PLATFORMS,
    AccountKind,
    AuthKind,
    PlatformKind,
    account_kind,
    kinds_of,
)
from audience_manager.core.urls import require_safe_account_urls
from audience_manager.store.accounts import AccountBook
from audience_manager.store.connections import ConnectionCheckError, check_account
from audience_manager.store.paths import settings_path
from audience_manager.store.secrets import KeyringUnavailableError, Secrets, shared_secrets

SIGN_IN_TIMEOUT_S = 300.0
# Platforms that take more than one kind of credential, and those kinds: what `--auth` chooses from.
CHOOSING = [p for p in PlatformKind if len(kinds_of(p)) > 1]
AUTH_CHOICES = sorted({k.auth.value for p in CHOOSING for k in kinds_of(p)})
WITH_LOCATION = [p for p, info in PLATFORMS.items() if info.location is not None]


# ----------------------------------------------------------------------------------------- parser


def add_command(commands: Subcommands) -> None:
    """Add `accounts` with its subcommands to the CLI's subparsers."""
    verbose = verbose_option()
    accounts = commands.add_parser(
        "accounts",
        help="add, list, test and remove saved accounts (secrets in the OS keyring)",
        description="Saved accounts: their names and addresses in the settings file, their secrets "
        "only in the OS keyring. Use one with `apply --account NAME` or `list --account NAME`.",
    )
    sub = accounts.add_subparsers(dest="accounts_command", metavar="SUBCOMMAND", parser_class=type(accounts))
    sub.required = True

    add = sub.add_parser(
        "add",
        parents=[verbose],
        help="save an account after testing its credential",
        description="Test the credential, then save the account. Secrets are read from the environment "
        "variables you name (never from arguments); Kit OAuth without --token-env opens the browser.",
    )
    add.add_argument("--platform", required=True, choices=[p.value for p in PlatformKind])
    add.add_argument("--name", required=True, help="how the account is called here (must be unique)")
    add.add_argument(
        "--auth",
        choices=AUTH_CHOICES,
        help=", ".join(f"{p} only: " + " or ".join(f"{k.auth}" for k in kinds_of(p)) for p in CHOOSING)
        + " (default: "
        + ", ".join(f"{p.info.saved_auth}" for p in CHOOSING)
        + ")",
    )
    add.add_argument("--location", default="", metavar="ID", help="highlevel: the sub-account's location id")
    add.add_argument("--base-url", default="", metavar="URL", help="the API's address if not the usual")
    add.add_argument(
        "--token-env",
        dest="new_token_env",  # not `token_env`: the name of the one-run connection option
        metavar="VAR",
        help="variable holding the API key or token (kit-v4 oauth: an access token; leave out to sign in "
        "in the browser)",
    )
    add.add_argument(
        "--secret-env",
        dest="new_secret_env",
        metavar="VAR",
        help="kit-v3: variable with the api_secret; oauth: the refresh token",
    )
    add.add_argument("--client-id", default="", help="kit-v4 oauth: your Kit app's client id")
    add.add_argument("--authorize-url", default=KIT_OAUTH_AUTHORIZE_URL, metavar="URL", help="kit-v4 oauth")
    add.add_argument("--token-url", default=KIT_OAUTH_TOKEN_URL, metavar="URL", help="kit-v4 oauth")
    add.add_argument(
        "--redirect-port",
        type=int,
        default=0,
        metavar="PORT",
        help="kit-v4 oauth: the port of the redirect URI registered with your Kit app (default: any free)",
    )
    add.add_argument("--replace", action="store_true", help="overwrite a saved account of the same name")
    add.add_argument("--no-test", action="store_true", help="save without trying the credential first")
    add.set_defaults(handler=_add)

    listing = sub.add_parser(
        "list", parents=[verbose], help="the saved accounts and where each secret is kept"
    )
    listing.set_defaults(handler=_list)

    test = sub.add_parser("test", parents=[verbose], help="show who the saved credential belongs to")
    test.add_argument("name", metavar="NAME")
    test.set_defaults(handler=_test)

    remove = sub.add_parser("remove", parents=[verbose], help="forget an account and its keyring entry")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(handler=_remove)


# ------------------------------------------------------------------------------------ commands


def _add(args: argparse.Namespace, streams: Streams) -> int:
    # The environment of the process: `main(environ=...)` is for one-run connections.
    return _add_with(args, streams.stdout, streams.stderr, environ=os.environ, secrets=shared_secrets())


def _add_with(
    args: argparse.Namespace,
    out: IO[str],
    err: IO[str],
    *,
    environ: Mapping[str, str],
    secrets: Secrets,
    open_browser: Callable[[str], object] | None = None,
) -> int:
    platform = PlatformKind(args.platform)
    account = _account_from(args, platform)
    book = AccountBook(settings_path())
    if book.get(account.name) is not None and not args.replace:
        raise UsageError(f"an account called {account.name!r} is already saved; --replace overwrites it")
    problem = secrets.keyring_problem()
    if problem is not None:
        raise UsageError(
            f"{problem} The command line cannot keep a secret for a session; until the keyring works, "
            "pass it for one run with `apply --platform ... --token-env VAR`."
        )
    credentials = _credentials_from(args, account, environ, err, open_browser)
    register_secret(*credentials.secrets())  # masked in every log line from now on
    if not args.no_test:
        try:
            info = asyncio.run(check_account(account, credentials))
        except ConnectionCheckError as exc:
            raise UsageError(f"not saved: {exc}") from None
        out.write(f"Verified: {info.name}" + (f" ({info.detail})" if info.detail else "") + "\n")
    try:
        asyncio.run(secrets.save_async(account.name, credentials))
    except KeyringUnavailableError as exc:
        raise UsageError(f"not saved: {exc}") from None
    book.put(account)
    out.write(f"Saved {account.name!r}: settings in {book.path}, secret in the system keyring.\n")
    return EXIT_OK


def _account_from(args: argparse.Namespace, platform: PlatformKind) -> Account:
    name = args.name.strip()
    if not name:
        raise UsageError("--name cannot be empty")
    if len(kinds_of(platform)) > 1:
        kind = account_kind(platform, AuthKind(args.auth) if args.auth else platform.info.saved_auth)
    elif args.auth:
        only = ", ".join(p.value for p in CHOOSING)
        raise UsageError(f"--auth is only for {only}; {platform} has one kind of credential")
    else:
        kind = account_kind(platform, platform.info.saved_auth)
    location = platform.info.location
    if location is not None and not args.location.strip():
        raise UsageError(f"--platform {platform} needs --location ID ({location.hint})")
    if location is None and args.location:
        raise UsageError(f"--location is only for {', '.join(p.value for p in WITH_LOCATION)}")
    if kind.signs_in and not args.new_token_env and not args.client_id.strip():
        raise UsageError(
            f"--auth {kind.auth} needs --client-id ID (your Kit app's) to sign in in the browser"
        )
    account = Account(
        name=name,
        platform=platform,
        auth=kind.auth,
        base_url=args.base_url.strip(),
        location_id=args.location.strip(),
        oauth_client_id=args.client_id.strip() if kind.signs_in else "",
        oauth_authorize_url=args.authorize_url,
        oauth_token_url=args.token_url,
        oauth_redirect_port=args.redirect_port if kind.signs_in else 0,
    )
    require_safe_account_urls(account)  # https, or http only to this computer
    return account


def _credentials_from(
    args: argparse.Namespace,
    account: Account,
    environ: Mapping[str, str],
    err: IO[str],
    open_browser: Callable[[str], object] | None,
) -> Credentials:
    kind: AccountKind = account.kind
    if kind.signs_in and not args.new_token_env:
        return _browser_sign_in(account, err, open_browser)
    if not args.new_token_env:
        raise UsageError("--token-env VAR is needed: the variable that holds the token")
    token = secret_from(environ, args.new_token_env, "--token-env")
    secret = refresh = ""
    if kind.needs_secret:
        if not args.new_secret_env:
            raise UsageError(f"--platform {account.platform} needs --secret-env VAR ({kind.secret_hint})")
        secret = secret_from(environ, args.new_secret_env, "--secret-env")
    elif args.new_secret_env:
        if not kind.signs_in:
            uses = [f"{k.platform} ({k.secret_hint})" for k in ACCOUNT_KINDS if k.needs_secret]
            uses += [f"{k.platform} {k.auth} (the refresh token)" for k in ACCOUNT_KINDS if k.signs_in]
            raise UsageError(f"--secret-env is only for {' and '.join(uses)}")
        refresh = secret_from(environ, args.new_secret_env, "--secret-env")
    return Credentials(token=token, secret=secret, refresh_token=refresh)


def _browser_sign_in(
    account: Account, err: IO[str], open_browser: Callable[[str], object] | None
) -> Credentials:
    def show(url: str) -> None:
        err.write(f"Sign in to Kit in your browser. If it does not open, visit:\n  {url}\n")
        err.flush()
        # On its own thread: a browser command may wait for the browser, and the redirect it brings
        # back is served by this process's event loop.
        threading.Thread(target=open_browser or webbrowser.open, args=(url,), daemon=True).start()

    async def go() -> Credentials:
        async with httpx.AsyncClient(timeout=30) as http:
            return await sign_in(OAuthConfig.for_account(account), show, http=http, timeout=SIGN_IN_TIMEOUT_S)

    try:
        return asyncio.run(go())
    except SignInError as exc:
        raise UsageError(f"not saved: {exc}") from None


def _list(args: argparse.Namespace, streams: Streams) -> int:
    out, err = streams.stdout, streams.stderr
    book = AccountBook(settings_path())
    accounts = book.accounts()
    if not accounts:
        err.write(f"No saved accounts. Add one with `{PROG} accounts add` (see --help).\n")
        return EXIT_OK
    secrets = shared_secrets()
    problem = secrets.keyring_problem()
    for account in accounts:
        if problem is not None:
            state = "keyring unavailable"
        else:
            try:
                held = asyncio.run(secrets.load_async(account.name))
                state = "secret in keyring" if held is not None else "no secret saved"
            except KeyringUnavailableError:
                state = "keyring unavailable"
        where = account.location_id or account.base_url
        out.write(f"{account.name}\t{account.platform.value}\t{account.auth.value}\t{where}\t{state}\n")
    if problem is not None:
        err.write(f"note: {problem}\n")
    return EXIT_OK


def _test(args: argparse.Namespace, streams: Streams) -> int:
    out = streams.stdout
    account = saved_account(args.name, AccountBook(settings_path()))
    secrets = shared_secrets()
    credentials = load_secret(secrets, account)  # masked in every log line from now on
    try:
        info = asyncio.run(check_account(account, credentials, secrets))
    except ConnectionCheckError as exc:
        raise UsageError(f"{account.name}: {exc}") from None
    out.write(f"{account.name}: OK, {info.name}" + (f" ({info.detail})" if info.detail else "") + "\n")
    return EXIT_OK


def _remove(args: argparse.Namespace, streams: Streams) -> int:
    out = streams.stdout
    book = AccountBook(settings_path())
    account = saved_account(args.name, book)
    secrets = shared_secrets()
    try:
        asyncio.run(secrets.delete_async(account.name))
    except KeyringUnavailableError as exc:
        raise UsageError(f"not removed: the keyring entry could not be deleted: {exc}") from None
    book.remove(account.name)
    kept = " (no keyring to clean)" if secrets.keyring_problem() else " and its keyring entry"
    out.write(f"Removed {account.name!r}{kept}.\n")
    return EXIT_OK
