"""``vigil user``: help people back into their accounts."""

from __future__ import annotations

from typing import Annotated

import typer

from vigil.accounts.password_reset import issue_link, user_for_link
from vigil.cli.common import fail, load_settings, migrated_engine, stderr
from vigil.core.clock import utcnow
from vigil.core.errors import NotFound
from vigil.db.engine import write_transaction
from vigil.tenants import service as tenants

app = typer.Typer(help="Manage users.", no_args_is_help=True)


@app.command("reset-link")
def reset_link(
    email: Annotated[str, typer.Argument(help="The user's email")],
    tenant: Annotated[str, typer.Option("--tenant", help="The user's tenant")],
) -> None:
    """Print a single-use password reset link (valid 30 minutes), for when email is not set up."""
    settings = load_settings()
    engine = migrated_engine(settings)
    try:
        with write_transaction(engine) as conn:
            tenant_row = tenants.get_tenant_by_name(conn, name=tenant)
            assert tenant_row is not None
            user = user_for_link(conn, tenant_id=tenant_row["id"], email=email)
            if user is None:
                fail(f"no active user {email!r} in tenant {tenant!r}")
            link = issue_link(conn, user=user, settings=settings, now=utcnow())
    except NotFound as error:
        fail(str(error))
    stderr.print(f"Reset link for {user['email']} (single use, valid 30 minutes):")
    typer.echo(link)
