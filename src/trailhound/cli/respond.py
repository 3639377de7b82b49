"""`trailhound respond ID --disable-console-access | --deactivate-access-key`: the playbook's last step,
dry-run unless --yes. Which actions apply is the alert's rule's to say (Rule.respond_actions)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..alerts.textsafe import inert
from ..errors import ConfigError
from .alerts import STATE, open_store
from .common import fail, usage_or_state


def respond(alert_id: str = typer.Argument(..., help="Alert id (or a unique prefix)."),
            state: Path = STATE,
            disable_console_access: bool = typer.Option(False, "--disable-console-access",
                                                        help="Remove the target user's console password "
                                                             "(iam:DeleteLoginProfile)."),
            deactivate_access_key: bool = typer.Option(False, "--deactivate-access-key",
                                                       help="Set the created access key inactive "
                                                            "(iam:UpdateAccessKey Status=Inactive)."),
            yes: bool = typer.Option(False, "--yes", help="Execute. Without it this is a dry run that only "
                                                          "prints what it would call."),
            note: str = typer.Option("", "--note", help="Recorded with the action on the alert.")) -> None:
    """Act on an alert. Dry run by default; --yes executes and records who, when and the result on the alert.

    Exit codes: 0 done, planned, or nothing to do (already removed); 1 the call or its check failed; 2 refused
    (another account, no such user) or bad usage.
    """
    from ..respond.actions import PLANS, RefusedError, caller_identity, check_account, execute, inspect
    from ..state.lifecycle import add_event, find

    chosen = [name for name, on in (("disable-console-access", disable_console_access),
                                    ("deactivate-access-key", deactivate_access_key)) if on]
    if len(chosen) != 1:
        fail("name one action: --disable-console-access or --deactivate-access-key")
    try:
        with open_store(state) as store:
            item = find(store, alert_id)
            plan = PLANS[chosen[0]](item.alert)
    except (ConfigError, RefusedError) as exc:
        fail(str(exc), usage_or_state(exc))
    try:
        identity = caller_identity()
    except Exception as exc:  # noqa: BLE001 - no credentials, no network: say so in one line
        if not yes:
            sys.stdout.write(f"would call: {inert(plan.describe())}\n")
            sys.stderr.write(f"trailhound: warning: could not check the credentials' account "
                             f"({type(exc).__name__}: {inert(exc, limit=300)}); dry run only\n")
            return
        fail(f"cannot check the credentials' account ({type(exc).__name__}: {exc})", code=1)
    try:
        check_account(plan, identity)
        nothing_to_do = inspect(plan)  # read-only: the user and its login profile or key exist?
    except RefusedError as exc:
        fail(f"refused: {exc}")  # before any "will call": nothing is called
    except Exception as exc:  # noqa: BLE001 - access denied, throttled: the check failed, nothing was changed
        fail(f"cannot check the target ({type(exc).__name__}: {exc}); nothing was changed", code=1)
    if nothing_to_do:
        sys.stdout.write(f"{inert(nothing_to_do)}\n")
        return
    sys.stdout.write(f"{'will call' if yes else 'would call'}: {inert(plan.describe())}\n")
    if not yes:
        sys.stdout.write(f"dry run: credentials are {inert(identity.arn)}; run again with --yes to execute\n")
        return
    try:
        result, ok = execute(plan), True
    except RefusedError as exc:
        fail(f"refused: {exc}")
    except Exception as exc:  # noqa: BLE001 - record the failure on the alert too
        result, ok = f"failed: {type(exc).__name__}: {exc}", False
    with open_store(state) as store:
        with store.transaction() as db:
            add_event(db, item.id, f"respond:{plan.action}", note=note or None,
                      result=f"{plan.describe()}: {result}", who=identity.arn)
    sys.stdout.write(f"{inert(result)}\n")
    if not ok:
        raise typer.Exit(1)
