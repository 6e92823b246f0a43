"""``vigil tenant``: an operator's way back in."""

from __future__ import annotations

from typing import Annotated

import typer

from vigil.accounts import service as accounts
from vigil.cli.common import fail, load_settings, migrated_engine, stderr
from vigil.core.errors import NotFound
from vigil.db.engine import write_transaction
from vigil.events.schemas import Action, ResourceType
from vigil.tenants import service as tenants
from vigil.tenants.allowlist import parse_allowlist

app = typer.Typer(help="Manage tenants.", no_args_is_help=True)


@app.command("allow-ip")
def allow_ip(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant")],
    add: Annotated[
        list[str] | None, typer.Option("--add", help="A CIDR to allow (repeatable)")
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Empty the allowlist: every address allowed")
    ] = False,
) -> None:
    """Change a tenant's IP allowlist, e.g. to recover when it locks everyone out."""
    if not clear and not add:
        fail("say --clear or --add CIDR")
    try:
        extra = parse_allowlist(add or [])
    except ValueError as error:
        fail(f"--add {error}")
    engine = migrated_engine(load_settings())
    try:
        with write_transaction(engine) as conn:
            row = tenants.get_tenant_by_name(conn, name=tenant)
            assert row is not None
            before = tenants.settings_of(row).ip_allowlist
            current = () if clear else parse_allowlist(before)
            change = tenants.change_tenant_settings(
                conn, tenant_id=row["id"], ip_allowlist=tuple(dict.fromkeys((*current, *extra)))
            )
            after = change.settings.ip_allowlist
            # Recorded whether or not the list changed: every use of this way back in
            # leaves a trace.
            accounts.record_system_action(
                conn,
                tenant_id=row["id"],
                action=Action.UPDATE,
                resource_type=ResourceType.SETTINGS,
                resource_id=str(row["id"]),
                details={
                    "changed_fields": ["ip_allowlist"],
                    "old_value": before,
                    "new_value": after,
                },
            )
    except NotFound as error:
        fail(str(error))
    shown = ", ".join(after) or "empty: every address is allowed"
    stderr.print(f"IP allowlist of {tenant}: {shown}")
