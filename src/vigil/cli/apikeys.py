"""``vigil apikey``: keys for producers and scripts."""

from __future__ import annotations

from typing import Annotated

import typer

from vigil.accounts import service as accounts
from vigil.cli.common import fail, load_settings, migrated_engine, stderr
from vigil.core.errors import NotFound
from vigil.core.permissions import parse_scopes
from vigil.db.engine import write_transaction
from vigil.events.schemas import ResourceType
from vigil.tenants import service as tenants

app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


@app.command("create")
def create(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant the key belongs to")],
    name: Annotated[str, typer.Option("--name", help="A label to recognise the key by")],
    scopes: Annotated[
        str, typer.Option("--scopes", help="Comma-separated: EVENTS_WRITE, USER_VIEW, USER_MANAGE")
    ],
) -> None:
    """Create a key and print it on stdout, once; only its hash is stored."""
    try:
        permissions = parse_scopes(scopes)
    except ValueError as error:
        fail(f"--scopes: {error}")
    engine = migrated_engine(load_settings())
    try:
        with write_transaction(engine) as conn:
            tenant_row = tenants.get_tenant_by_name(conn, name=tenant)
            assert tenant_row is not None
            secret, key = accounts.create_api_key(
                conn, tenant_id=tenant_row["id"], name=name, scopes=permissions
            )
            accounts.record_system_action(
                conn,
                tenant_id=tenant_row["id"],
                resource_type=ResourceType.API_KEY,
                resource_id=str(key["id"]),
                details={"name": key["name"], "scopes": key["scopes"], "prefix": key["key_prefix"]},
            )
    except (NotFound, ValueError) as error:
        fail(str(error))
    stderr.print(f"Created API key {key['name']!r} ({key['scopes']}) in tenant {tenant}")
    typer.echo(secret)
