"""The ``vigil`` entry point: one Typer app, one module per command group."""

from __future__ import annotations

import typer

from vigil.cli import apikeys, db, demo, people, rollups, serve, tenants, tenants_allow, users

app = typer.Typer(
    name="vigil",
    help="Vigil: user activity and audit trail service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("init")(tenants.init)
app.command("serve")(serve.serve)
app.command("migrate", help=serve.MIGRATE_HELP)(serve.migrate)
app.command("demo")(demo.demo)
app.add_typer(apikeys.app, name="apikey")
app.add_typer(users.app, name="user")
app.add_typer(tenants_allow.app, name="tenant")
app.add_typer(db.app, name="db")
app.add_typer(rollups.app, name="rollups")
app.add_typer(people.app, name="people")

if __name__ == "__main__":
    app()
