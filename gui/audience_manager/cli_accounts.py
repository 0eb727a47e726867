"""`audience-manager accounts add|list|test|remove`, and `--account NAME` for `apply` and `list`.

The same saved accounts as the app: names and addresses in the settings file, secrets in the OS
keyring only. Secrets still come in only through environment variables (`--token-env VAR`), or,
for Kit OAuth, through the browser sign-in. With no working keyring the command line refuses to
save (it has no "session" to keep a token in) and says how to fix the keyring or how to pass the
token for one run instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import webbrowser
from collections.abc import Callable, Mapping
from typing import IO, Any

import httpx

from audience_manager import cli
from audience_manager.api.oauth import OAuthConfig, SignInError, sign_in
from audience_manager.api.redaction import register_secret
from audience_manager.core.accounts import KIT_OAUTH_AUTHORIZE_URL, KIT_OAUTH_TOKEN_URL, Account, Credentials
from audience_manager.core.platforms import AuthKind, PlatformKind
from audience_manager.core.urls import require_safe_account_urls
from audience_manager.store.accounts import AccountBook
from audience_manager.store.connections import ConnectionCheckError, check_account, open_account
from audience_manager.store.paths import settings_path
from audience_manager.store.secrets import KeyringUnavailableError, Secrets, shared_secrets

SIGN_IN_TIMEOUT_S = 300.0
AUTH_CHOICES = {"oauth": AuthKind.OAUTH, "api-key": AuthKind.API_KEY}
PLATFORM_AUTH = {PlatformKind.KIT_V3: AuthKind.LEGACY_KEY, PlatformKind.HIGHLEVEL: AuthKind.PRIVATE_TOKEN}


# ----------------------------------------------------------------------------------------- parser


def add_accounts_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Add `accounts` with its subcommands to the CLI's subparsers."""
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("--verbose", "-v", action="store_true", help="log every request (secrets masked)")
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
    add.add_argument("--auth", choices=list(AUTH_CHOICES), help="kit-v4 only: oauth or api-key (default)")
    add.add_argument("--location", default="", metavar="ID", help="highlevel: the sub-account's location id")
    add.add_argument("--base-url", default="", metavar="URL", help="the API's address if not the usual")
    add.add_argument(
        "--token-env",
        dest="new_token_env",  # not `token_env`: that name makes `cli.main` read a one-run connection
        metavar="VAR",
        help="variable holding the API key or token (kit-v4 oauth: an access token; leave out to sign in "
        "in the browser)",
    )
    add.add_argument(
        "--secret-env",
        dest="new_secret_env",
        metavar="VAR", help="kit-v3: variable with the api_secret; oauth: the refresh token"
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
    add.set_defaults(handler=_handler(_add))

    listing = sub.add_parser(
        "list", parents=[verbose], help="the saved accounts and where each secret is kept"
    )
    listing.set_defaults(handler=_handler(_list))

    test = sub.add_parser("test", parents=[verbose], help="show who the saved credential belongs to")
    test.add_argument("name", metavar="NAME")
    test.set_defaults(handler=_handler(_test))

    remove = sub.add_parser("remove", parents=[verbose], help="forget an account and its keyring entry")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(handler=_handler(_remove))


def _handler(command: Callable[..., int]) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        with cli._logging(getattr(args, "verbose", False), (), sys.stderr):
            return command(args, sys.stdout, sys.stderr)

    return handler


# -------------------------------------------------------------------------------- --account NAME


def connection_for_account(
    name: str, *, secrets: Secrets | None = None, book: AccountBook | None = None
) -> cli.Connection:
    """The saved account `name` with its secret from the keyring, opened with refreshing OAuth."""
    book = book or AccountBook(settings_path())
    account = book.get(name)
    if account is None:
        raise cli.UsageError(_unknown(name, book))
    secrets = secrets or shared_secrets()
    credentials = _load(secrets, account)

    def opener() -> Any:
        return open_account(account, credentials, secrets)

    return cli.Connection(account, credentials, opener=opener)


def check_account_option(args: argparse.Namespace) -> None:
    """--account and --platform/--token-env are two ways to say the same thing: one at a time."""
    if getattr(args, "account", None) and (args.platform or args.token_env or args.auth or args.secret_env):
        raise cli.UsageError("give either --account NAME or --platform/--auth/--token-env, not both")


def _load(secrets: Secrets, account: Account) -> Credentials:
    try:
        credentials = asyncio.run(secrets.load_async(account.name))
    except KeyringUnavailableError as exc:
        raise cli.UsageError(f"the secret of {account.name!r} cannot be read: {exc}") from None
    if credentials is None:
        raise cli.UsageError(
            f"no secret is saved for {account.name!r} in the keyring; add it again with "
            f"`{cli.PROG} accounts add --replace --name {account.name!r} ...`"
        )
    return credentials


def _unknown(name: str, book: AccountBook) -> str:
    names = ", ".join(repr(a.name) for a in book.accounts())
    return f"no saved account is called {name!r}" + (
        f" (saved: {names})" if names else f"; add one with `{cli.PROG} accounts add`"
    )


# ------------------------------------------------------------------------------------ commands


def _add(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    return _add_with(args, out, err, environ=os.environ, secrets=shared_secrets())


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
        raise cli.UsageError(f"an account called {account.name!r} is already saved; --replace overwrites it")
    problem = secrets.keyring_problem()
    if problem is not None:
        raise cli.UsageError(
            f"{problem} The command line cannot keep a secret for a session; until the keyring works, "
            "pass it for one run with `apply --platform ... --token-env VAR`."
        )
    credentials = _credentials_from(args, account, environ, err, open_browser)
    register_secret(*credentials.secrets())  # masked in every log line from now on
    if not args.no_test:
        try:
            info = asyncio.run(check_account(account, credentials))
        except ConnectionCheckError as exc:
            raise cli.UsageError(f"not saved: {exc}") from None
        out.write(f"Verified: {info.name}" + (f" ({info.detail})" if info.detail else "") + "\n")
    try:
        asyncio.run(secrets.save_async(account.name, credentials))
    except KeyringUnavailableError as exc:
        raise cli.UsageError(f"not saved: {exc}") from None
    book.put(account)
    out.write(f"Saved {account.name!r}: settings in {book.path}, secret in the system keyring.\n")
    return cli.EXIT_OK


def _account_from(args: argparse.Namespace, platform: PlatformKind) -> Account:
    name = args.name.strip()
    if not name:
        raise cli.UsageError("--name cannot be empty")
    if platform is PlatformKind.KIT_V4:
        auth = AUTH_CHOICES[args.auth or "api-key"]
    elif args.auth:
        raise cli.UsageError(f"--auth is only for kit-v4; {platform} has one kind of credential")
    else:
        auth = PLATFORM_AUTH[platform]
    if platform is PlatformKind.HIGHLEVEL and not args.location.strip():
        raise cli.UsageError("--platform highlevel needs --location ID (the sub-account's location id)")
    if platform is not PlatformKind.HIGHLEVEL and args.location:
        raise cli.UsageError("--location is only for highlevel")
    if auth is AuthKind.OAUTH and not args.new_token_env and not args.client_id.strip():
        raise cli.UsageError("--auth oauth needs --client-id ID (your Kit app's) to sign in in the browser")
    account = Account(
        name=name,
        platform=platform,
        auth=auth,
        base_url=args.base_url.strip(),
        location_id=args.location.strip(),
        oauth_client_id=args.client_id.strip() if auth is AuthKind.OAUTH else "",
        oauth_authorize_url=args.authorize_url,
        oauth_token_url=args.token_url,
        oauth_redirect_port=args.redirect_port if auth is AuthKind.OAUTH else 0,
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
    if account.auth is AuthKind.OAUTH and not args.new_token_env:
        return _browser_sign_in(account, err, open_browser)
    if not args.new_token_env:
        raise cli.UsageError("--token-env VAR is needed: the variable that holds the token")
    token = cli._secret_from(environ, args.new_token_env, "--token-env")
    secret = refresh = ""
    if account.platform is PlatformKind.KIT_V3:
        if not args.new_secret_env:
            raise cli.UsageError("--platform kit-v3 needs --secret-env VAR (the api_secret)")
        secret = cli._secret_from(environ, args.new_secret_env, "--secret-env")
    elif args.new_secret_env:
        if account.auth is not AuthKind.OAUTH:
            raise cli.UsageError("--secret-env is only for kit-v3 (api_secret) and kit-v4 oauth (refresh)")
        refresh = cli._secret_from(environ, args.new_secret_env, "--secret-env")
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
        raise cli.UsageError(f"not saved: {exc}") from None


def _list(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    book = AccountBook(settings_path())
    accounts = book.accounts()
    if not accounts:
        err.write(f"No saved accounts. Add one with `{cli.PROG} accounts add` (see --help).\n")
        return cli.EXIT_OK
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
    return cli.EXIT_OK


def _test(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    book = AccountBook(settings_path())
    account = book.get(args.name)
    if account is None:
        raise cli.UsageError(_unknown(args.name, book))
    secrets = shared_secrets()
    credentials = _load(secrets, account)
    register_secret(*credentials.secrets())  # masked in every log line from now on
    try:
        info = asyncio.run(check_account(account, credentials, secrets))
    except ConnectionCheckError as exc:
        raise cli.UsageError(f"{account.name}: {exc}") from None
    out.write(f"{account.name}: OK, {info.name}" + (f" ({info.detail})" if info.detail else "") + "\n")
    return cli.EXIT_OK


def _remove(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    book = AccountBook(settings_path())
    account = book.get(args.name)
    if account is None:
        raise cli.UsageError(_unknown(args.name, book))
    secrets = shared_secrets()
    try:
        asyncio.run(secrets.delete_async(account.name))
    except KeyringUnavailableError as exc:
        raise cli.UsageError(f"not removed: the keyring entry could not be deleted: {exc}") from None
    book.remove(account.name)
    kept = " (no keyring to clean)" if secrets.keyring_problem() else " and its keyring entry"
    out.write(f"Removed {account.name!r}{kept}.\n")
    return cli.EXIT_OK
