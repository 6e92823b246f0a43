"""``vigil init``: a tenant and its first administrator."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from vigil.accounts import service as accounts
from vigil.accounts.passwords import check_password_rules
from vigil.cli.common import fail, load_settings, migrated_engine, stderr
from vigil.core.errors import Conflict
from vigil.db.engine import write_transaction
from vigil.events.schemas import normalise_email


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
    try:
        normalise_email(admin_email.strip())
    except ValueError as error:
        fail(f"--admin-email {admin_email!r}: {error}")
    password = admin_password or secrets.token_urlsafe(18)
    try:
        check_password_rules(password, email=admin_email)
    except ValueError as error:
        fail(f"--admin-password {error}")
    engine = migrated_engine(settings)
    try:
        with write_transaction(engine) as conn:
            tenant_row, _ = accounts.create_tenant_with_admin(
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
