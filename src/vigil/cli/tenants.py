"""``vigil init``: a tenant and its first administrator."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Any

import typer
from sqlalchemy import Connection

from vigil.accounts import service as accounts
from vigil.accounts.passwords import check_password_rules
from vigil.cli.common import fail, load_settings, migrated_engine, stderr
from vigil.core.errors import Conflict
from vigil.core.permissions import Role
from vigil.db.engine import write_transaction
from vigil.events import service as events
from vigil.events.schemas import Action, EventIn, ResourceType


def init(
    tenant: Annotated[str, typer.Option("--tenant", help="Name of the new tenant")],
    admin_email: Annotated[str, typer.Option("--admin-email", help="Email of its first ADMIN")],
    admin_password: Annotated[
        str | None,
        typer.Option("--admin-password", help="Password (12+ characters); random if omitted"),
    ] = None,
) -> None:
    """Create a tenant and its first ADMIN user."""
    settings = load_settings()
    password = admin_password or secrets.token_urlsafe(18)
    try:
        check_password_rules(password, email=admin_email)
    except ValueError as error:
        fail(f"--admin-password {error}")
    engine = migrated_engine(settings)
    try:
        with write_transaction(engine) as conn:
            tenant_row, _ = create_tenant_with_admin(
                conn,
                tenant_name=tenant,
                admin_email=admin_email,
                admin_password=password,
                retention_days=settings.retention_days,
            )
    except (Conflict, ValueError) as error:
        fail(str(error))
    stderr.print(f"Created tenant [bold]{tenant_row['name']}[/] with ADMIN {admin_email.lower()}")
    if admin_password is None:
        stderr.print("Generated password (shown once):")
        typer.echo(password)


def create_tenant_with_admin(
    conn: Connection,
    *,
    tenant_name: str,
    admin_email: str,
    admin_password: str,
    retention_days: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A tenant and its ADMIN, the creation recorded as a USER event in the tenant."""
    tenant_row = accounts.create_tenant(conn, name=tenant_name, retention_days=retention_days)
    admin = accounts.create_user(
        conn,
        tenant_id=tenant_row["id"],
        email=admin_email,
        name="Administrator",
        role=Role.ADMIN,
        password=admin_password,
    )
    record_cli_event(
        conn,
        tenant_id=tenant_row["id"],
        resource_type=ResourceType.USER,
        resource_id=str(admin["id"]),
        details={"email": admin["email"], "name": admin["name"], "role": admin["role"]},
    )
    return tenant_row, admin


def record_cli_event(
    conn: Connection,
    *,
    tenant_id: uuid.UUID,
    resource_type: ResourceType,
    resource_id: str,
    details: dict[str, Any],
) -> None:
    """Record a CREATE made from the command line, a system action with no actor."""
    event = EventIn(
        action=Action.CREATE,
        resource_type=resource_type,
        resource_id=resource_id,
        details={**details, "via": "cli"},
    )
    events.record(conn, tenant_id=tenant_id, event=event)
