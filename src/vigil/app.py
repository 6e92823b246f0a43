"""The application factory: routers, error handling, and the background writer's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from vigil import __version__
from vigil.accounts.access import check_every_route_has_a_rule
from vigil.accounts.auth_routes import router as auth_router
from vigil.accounts.credentials import RecentCredentials
from vigil.accounts.key_routes import router as keys_router
from vigil.accounts.presence import Presence
from vigil.accounts.routes import router as users_router
from vigil.accounts.throttle import LoginThrottle
from vigil.analytics.routes import router as analytics_router
from vigil.analytics.team_routes import router as team_analytics_router
from vigil.api_docs import openapi_document
from vigil.consumers import build_consumers
from vigil.core.errors import VigilError
from vigil.core.http import FastJSONResponse, allowed_methods, error_response
from vigil.core.validation import describe_errors
from vigil.db.backfill import fill_in_background
from vigil.db.engine import WRITER_CACHE_MIB, WalCheckpointer, build_engine
from vigil.detections.routes import router as security_router
from vigil.events.deps import Ingest
from vigil.events.export import MAX_CONCURRENT_EXPORTS, ExportSlots
from vigil.events.fast_path import IngestFastPath
from vigil.events.geo import Geolocator
from vigil.events.routes import router as events_router
from vigil.events.writer import EventWriter
from vigil.jobs import run_jobs_forever
from vigil.live.hub import LiveHub
from vigil.live.routes import credential_still_admits
from vigil.live.routes import router as live_router
from vigil.notifications.delivery import Deliverer
from vigil.notifications.routes import router as notifications_router
from vigil.ops.metrics import ServerMetrics
from vigil.ops.middleware import RequestObserver
from vigil.ops.routes import router as ops_router
from vigil.people.routes import router as people_router
from vigil.settings import Settings, get_settings
from vigil.spine.dispatcher import Dispatcher
from vigil.tenants.routes import router as settings_router
from vigil.web.rendering import is_console
from vigil.web.setup import error_page, install_console

log = logging.getLogger(__name__)

EXPORT_CACHE_MIB = 1

DESCRIPTION = """Vigil records who did what, when and from where, across your platform.

Authenticate with `Authorization: Bearer <API key or session token>` (from `POST /auth/login`).
Producers need `EVENTS_WRITE`;
reading activity needs `USER_VIEW` or `USER_MANAGE`.
"""


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """A Vigil app; the engine is built from settings unless one is given (tests, benchmarks)."""
    settings = settings or get_settings()
    engine = engine or build_engine(settings.database_url, pool_size=settings.db_pool_size)
    url = engine.url.render_as_string(hide_password=False)
    # Ingest and exports get connections of their own, so slow downloads or a burst of
    # reads can never starve the writer, and exports cannot starve the rest.
    write_engine = build_engine(
        url, pool_size=1, max_overflow=1, checkpoint_on_commit=False, cache_mib=WRITER_CACHE_MIB
    )
    # One connection per export slot: an export takes its connection before it answers 200.
    # An export reads each page once, in order, so SQLite's page cache would only hold
    # memory (the operating system caches the file anyway).
    export_engine = build_engine(
        url, pool_size=MAX_CONCURRENT_EXPORTS, max_overflow=0, cache_mib=EXPORT_CACHE_MIB
    )
    geo = Geolocator(enabled=settings.geoip_enabled)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(geo.warm_up)
        sqlite = write_engine.dialect.name == "sqlite"
        checkpointer = WalCheckpointer(write_engine) if sqlite else None
        if checkpointer is not None:
            checkpointer.start()
        writer = EventWriter(write_engine)
        app.state.writer = writer
        app.state.ingest = Ingest(writer=writer, geo=geo)
        deliverer: Deliverer = app.state.deliverer
        # Every consumer sees every committed event, whoever wrote it: the writer wakes
        # them at once, commits of other transactions and processes reach them through
        # the database (DESIGN §2).
        dispatcher = Dispatcher(engine, app.state.consumers)
        live = LiveHub(
            engine,
            recent=dispatcher.recent,
            recheck=credential_still_admits(engine),
            max_per_tenant=settings.live_max_per_tenant,
            max_per_credential=settings.live_max_per_credential,
            queue_events=settings.live_queue_events,
        )
        app.state.live = live
        dispatcher.also_wake(live.wake)
        live.start(asyncio.get_running_loop())
        dispatcher.start()
        writer.add_listener(dispatcher.committed)
        app.state.metrics.watch_writer(writer)
        await writer.start()
        # Columns an upgrade added are filled beside ingest, in short transactions.
        backfill_stop = threading.Event()
        backfilling = asyncio.create_task(
            asyncio.to_thread(fill_in_background, engine, stop=backfill_stop), name="vigil-backfill"
        )
        tasks = [
            asyncio.create_task(run_jobs_forever(engine), name="vigil-jobs"),
            asyncio.create_task(app.state.presence.flush_forever(engine), name="vigil-presence"),
            asyncio.create_task(deliverer.run_forever(), name="vigil-delivery"),
        ]
        try:
            yield
        finally:
            backfill_stop.set()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await backfilling  # its thread ends after its current batch
            await writer.stop()
            dispatcher.stop()
            live.stop()
            if checkpointer is not None:
                checkpointer.stop()
            write_engine.dispose()
            export_engine.dispose()

    # /docs and /redoc from Swagger UI and ReDoc as fastapi-offline packages them, served by
    # Vigil itself: FastAPI's own pages load them from a CDN, and are blank offline.
    app = FastAPIOffline(
        static_url="/docs/assets",
        title="Vigil",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=FastJSONResponse,
        # Vigil exports no OpenTelemetry; left on, FastAPI looks for providers in the
        # environment on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    app.state.settings = settings
    app.state.engine = engine
    app.state.geo = geo
    app.state.export_slots = ExportSlots(export_engine, limit=MAX_CONCURRENT_EXPORTS)
    app.state.login_throttle = LoginThrottle(limit=settings.login_attempts_per_ip)
    app.state.presence = Presence()
    app.state.credentials = RecentCredentials()
    app.state.deliverer = Deliverer(engine, settings)
    # Built here, started with the app: what a test or an extension registers before
    # the app starts runs like the rest.
    app.state.consumers = build_consumers(settings, wake_deliverer=app.state.deliverer.wake)
    app.state.metrics = ServerMetrics(
        engine=engine, export_engine=export_engine, consumers=app.state.consumers
    )
    _install_error_handlers(app)
    # Before the events: "/audit-logs/summary" must match before "/audit-logs/{event_id}".
    app.include_router(analytics_router)
    app.include_router(live_router)
    app.include_router(events_router)
    app.include_router(users_router)
    app.include_router(people_router)
    app.include_router(team_analytics_router)
    app.include_router(auth_router)
    app.include_router(keys_router)
    app.include_router(settings_router)
    app.include_router(security_router)
    app.include_router(notifications_router)
    app.include_router(ops_router)
    install_console(app)

    check_every_route_has_a_rule(app)
    app.add_middleware(IngestFastPath)
    # Outside the fast path, so ingest is counted and logged like every other request.
    app.add_middleware(RequestObserver, metrics=app.state.metrics)
    # Added last, so it runs first: the client's address and scheme (https behind a TLS
    # proxy, hence Secure cookies) are settled before anything reads them.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=_proxy_hosts(settings))
    return app


def _proxy_hosts(settings: Settings) -> list[str]:
    """``VIGIL_TRUSTED_PROXIES`` as uvicorn's middleware matches them: bound to ``::``, a
    proxy's IPv4 address reaches the app IPv4-mapped (``::ffff:10.0.0.5``), and the
    middleware compares addresses as they come."""
    hosts = []
    for network in settings.trusted_networks:
        hosts.append(str(network))
        if network.version == 4:
            hosts.append(f"::ffff:{network.network_address}/{96 + network.prefixlen}")
    return hosts


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VigilError)
    async def vigil_error(request: Request, error: VigilError) -> Response:
        if is_console(request):
            return error_page(request, error.status_code, "Something is not right", error.message)
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, error: RequestValidationError) -> Response:
        errors = describe_errors(error.errors(), drop_prefix=("query", "path", "body", "header"))
        first = errors[0] if errors else {"field": "request", "message": "invalid"}
        if is_console(request):
            message = f"{first['field']}: {first['message']}"
            return error_page(request, 422, "Something is not right", message)
        return FastJSONResponse(
            {"detail": f"{first['field']}: {first['message']}", "errors": errors}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if is_console(request) and error.status_code == 404:
            return error_page(request, 404, "Not found", "There is no such page.")
        headers = dict(error.headers or {})
        detail = error.detail
        if error.status_code == 405:
            # Starlette names only the methods of the first route matching the path;
            # a path served by several routes (GET and PATCH /settings) has them all.
            headers["Allow"] = allowed_methods(request)
            detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
        return FastJSONResponse({"detail": detail}, status_code=error.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if is_console(request):
            message = "Vigil hit an error it did not expect; the server log has the details."
            return error_page(request, 500, "Internal error", message)
        return FastJSONResponse({"detail": "internal error; see the server log"}, status_code=500)
