"""Thin sync and async stores over one set of named queries."""

from __future__ import annotations

import contextlib
import os
import re
import select
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from hatchnb import errors
from hatchnb.config import Settings
from hatchnb.store import queries

Row = dict[str, Any]
#: a connection inside a transaction, handed to repositories that work within it
Tx = psycopg.Connection[DictRow]
#: JIT compiling a 1,000-row insert costs far more than running it
NO_JIT = "-c jit=off"
ASYNC_COMMIT = "-c jit=off -c synchronous_commit=off"
#: a pool gives up a connection attempt after this long, then starts a fresh one at once:
#: psycopg_pool's own backoff doubles without limit, which after a long outage would leave
#: the pool idle for minutes after the server is back
RECONNECT_TIMEOUT = 4.0


@contextlib.contextmanager
def wrap_errors(dsn: str | None = None) -> Iterator[None]:
    """Turn connection failures into :class:`hatchnb.errors.DatabaseUnavailable` (naming
    the URL, password masked, when given)."""
    try:
        yield
    except (psycopg.OperationalError, psycopg.errors.AdminShutdown) as exc:
        where = f"{redact(dsn)}: " if dsn else ""
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "unsupported startup parameter" in detail:  # PgBouncer's refusal
            detail += (
                "; this URL is a connection pooler: set HATCHNB_DATABASE_DIRECT_URL to the "
                "server's own URL (LISTEN and session locks go there; pooled connections "
                "then send no startup options)"
            )
        raise errors.DatabaseUnavailable(
            f"{errors.DatabaseUnavailable.__doc__} ({where}{detail})"
        ) from exc


@contextlib.contextmanager
def refused_values() -> Iterator[None]:
    """For the public API's stores: a value PostgreSQL refuses (too large to index, the wrong
    form for its column, text it cannot hold) becomes :class:`hatchnb.errors.ValueRefused`
    instead of a psycopg error, or, for a value too large, a false "cannot be reached". The
    API checks its inputs before sending them (``hatchnb.limits``); this is the net under
    those checks. Workers keep psycopg's errors: their reporter tells refused data apart."""
    try:
        yield
    except psycopg.errors.NoDataFound as exc:  # hatchnb.refuse_deleted_workflow
        raise errors.WorkflowNotFound(_first_line(exc)) from exc
    except psycopg.errors.ProgramLimitExceeded as exc:
        raise errors.ValueRefused(
            f"a value of this call is too large for PostgreSQL ({_first_line(exc)}); pass "
            "shorter names, keys or metadata"
        ) from exc
    except psycopg.DataError as exc:
        raise errors.ValueRefused(
            f"PostgreSQL refused a value of this call ({_first_line(exc)}); check the ids "
            "(UUIDs), numbers and text passed"
        ) from exc
    except UnicodeEncodeError as exc:
        raise errors.ValueRefused(
            f"a text of this call cannot be sent to PostgreSQL ({exc.reason} at position "
            f"{exc.start}); remove lone surrogates such as '\\ud800'"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def redact(dsn: str) -> str:
    """The URL or key=value string with its password replaced by ``***``."""
    if "://" not in dsn:
        params = conninfo_to_dict(dsn)
        return make_conninfo("", **{**params, "password": "***"}) if "password" in params else dsn
    masked = re.sub(r"^([\w+.-]+://[^:/@?]*):[^@/?]*@", r"\1:***@", dsn)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", masked)


def liveness_params(dsn: str, options: str, dead_after: float | None = None) -> dict[str, Any]:
    """libpq parameters that notice a dead peer: a cut link or a vanished host resets no
    connection, and without these a query waits for TCP's retransmissions (15 minutes).
    The client gives up on unacknowledged data and on silent idle connections after about
    ``dead_after`` seconds (default HATCHNB_WORKER_TIMEOUT, when the engine gives up on a
    silent worker); the server is asked to drop a vanished client's session as fast, so
    that the locks it holds (the engine leader lock) are freed. Parameters set in the URL
    win; ``options`` is added before the URL's own."""
    seconds = max(2.0, Settings.from_env().worker_timeout if dead_after is None else dead_after)
    idle, interval, count = max(1, round(seconds / 3)), max(1, round(seconds / 6)), 3
    server = (
        f"-c tcp_keepalives_idle={idle} -c tcp_keepalives_interval={interval} "
        f"-c tcp_keepalives_count={count} -c tcp_user_timeout={int(seconds * 1000)}"
    )
    given = conninfo_to_dict(dsn)
    params: dict[str, Any] = {
        "connect_timeout": max(10, round(seconds)),
        "keepalives": 1,
        "keepalives_idle": idle,
        "keepalives_interval": interval,
        "keepalives_count": count,
        "tcp_user_timeout": int(seconds * 1000),
    }
    params = {key: value for key, value in params.items() if key not in given}
    params["options"] = " ".join(str(p) for p in (options, server, given.get("options")) if p)
    return params


def direct_dsn(dsn: str) -> str:
    """The URL for what needs a session of its own (LISTEN, session advisory locks, the
    migration lock): ``HATCHNB_DATABASE_DIRECT_URL`` when ``dsn`` is the pooled
    ``HATCHNB_DATABASE_URL`` (PgBouncer in transaction mode), else ``dsn`` itself."""
    direct = os.environ.get("HATCHNB_DATABASE_DIRECT_URL")
    if direct and dsn == os.environ.get("HATCHNB_DATABASE_URL"):
        return direct
    return dsn


def pooled(dsn: str) -> bool:
    """Whether ``dsn`` goes through a transaction-mode pooler (it has a direct twin)."""
    return direct_dsn(dsn) != dsn


def pool_params(dsn: str, options: str) -> dict[str, Any]:
    """Connection parameters of a pool's connections: the liveness ones, and through a
    transaction-mode pooler neither server-side prepared statements (a statement prepared
    on one server connection is unknown on the next) nor startup ``options`` (PgBouncer
    refuses them; set such server settings on the role or database instead)."""
    params = liveness_params(dsn, options)
    if pooled(dsn):
        del params["options"]
        params["prepare_threshold"] = None
    return params


def jsonb(value: Any) -> Jsonb:
    """A JSON(B) parameter of a named query."""
    return Jsonb(value)


def _check_if_readable(conn: psycopg.Connection[Any]) -> None:
    """The sync pool's checkout test, only for a connection whose socket has something to
    read: a server that stopped or restarted closed it (EOF, or a termination message),
    while an idle live connection receives nothing. A server restart leaves every idle
    connection dead (a child spawned by a task right after a restart failed its task,
    retries included, on four dead ones); testing every checkout instead costs each enqueue
    a round trip."""
    if conn.closed or _readable(conn.fileno()):
        ConnectionPool.check_connection(conn)


async def _acheck_if_readable(conn: psycopg.AsyncConnection[Any]) -> None:
    """``_check_if_readable`` for the async pools (durable logs, the worker's statements):
    after a server restart their idle connections are just as dead."""
    if conn.closed or _readable(conn.fileno()):
        await AsyncConnectionPool.check_connection(conn)


def _readable(fd: int) -> bool:
    poller = select.poll()  # not select.select: no limit on the descriptor number
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def _why_not(dsn: str, kwargs: dict[str, Any]) -> None:
    """After a pool gave up opening: one plain connection attempt, whose error (a refused
    password, a pooler refusing startup options) says more than the pool's timeout."""
    psycopg.connect(dsn, **{**kwargs, "connect_timeout": 5}).close()


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.autocommit = True


async def _aconfigure(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.set_autocommit(True)


async def _retry_connecting(pool: AsyncConnectionPool[Any]) -> None:
    """A connection attempt gave up: start a fresh one (first try now, short delays)."""
    with contextlib.suppress(Exception):
        await pool.check()


class Store:
    """Synchronous access for client code (notebooks, scripts)."""

    #: the text of a named statement, for repositories running several in one transaction
    query = staticmethod(queries.get)

    def __init__(self, dsn: str, max_size: int = 4) -> None:
        self.dsn = dsn
        #: the read replica's store, once ``replica.reads_store`` made one
        self.replica: Store | None = None
        kwargs: dict[str, Any] = {"row_factory": dict_row, **pool_params(dsn, NO_JIT)}
        self.pool: ConnectionPool[psycopg.Connection[DictRow]] = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max_size,
            open=False,
            configure=_configure,
            # a dead connection is replaced at checkout instead of failing the caller
            check=_check_if_readable,
            kwargs=kwargs,
            name="hatchnb-sync",
        )
        with wrap_errors(dsn):
            try:
                self.pool.open(wait=True, timeout=15)
            except PoolTimeout:
                _why_not(dsn, kwargs)
                raise

    def close(self) -> None:
        if self.replica is not None:
            self.replica.close()
        self.pool.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[DictRow]]:
        with wrap_errors(), refused_values(), self.pool.connection() as conn, conn.transaction():
            yield conn

    def fetch_all(self, query: str, **params: Any) -> list[Row]:
        with wrap_errors(), refused_values(), self.pool.connection() as conn:
            return conn.execute(queries.get(query), params).fetchall()

    def fetch_one(self, query: str, **params: Any) -> Row | None:
        with wrap_errors(), refused_values(), self.pool.connection() as conn:
            return conn.execute(queries.get(query), params).fetchone()

    def fetch_all_pipelined(self, query: str, param_sets: Iterable[dict[str, Any]]) -> list[Row]:
        """``fetch_all`` of one statement per parameter set, all in one transaction and one
        pipeline: each set is sent as soon as the iterable yields it, so the caller builds
        the next one while the server runs the last. Nothing commits unless all succeed."""
        text = queries.get(query)
        with (
            wrap_errors(),
            refused_values(),
            self.pool.connection() as conn,
            conn.transaction(),
            conn.pipeline(),
        ):
            cursors = []
            for params in param_sets:
                cursor = conn.cursor()
                cursor.execute(text, params)
                cursors.append(cursor)
            return [row for cursor in cursors for row in cursor.fetchall()]

    def execute(self, query: str, **params: Any) -> None:
        with wrap_errors(), refused_values(), self.pool.connection() as conn:
            conn.execute(queries.get(query), params)


class AsyncStore:
    """Asynchronous access for workers and ``aio_`` methods.

    ``durable=False`` commits asynchronously (no wait for the WAL flush): for a worker's
    claims and results only, where a commit forgotten by a Postgres crash means the task
    runs again, never that it is lost. Enqueues always use durable commits.

    ``keep_reconnecting=True`` (workers) retries a lost server every second or two for as
    long as it takes, instead of psycopg_pool's growing delays that give up after minutes."""

    query = staticmethod(queries.get)

    def __init__(
        self,
        dsn: str,
        max_size: int = 4,
        durable: bool = True,
        keep_reconnecting: bool = False,
        refuse_values: bool = False,
    ) -> None:
        self.dsn = dsn
        #: ``refused_values`` for the public API's ``aio_`` calls (not for workers)
        self._refused = refused_values if refuse_values else contextlib.nullcontext
        retry: dict[str, Any] = (
            {"reconnect_timeout": RECONNECT_TIMEOUT, "reconnect_failed": _retry_connecting}
            if keep_reconnecting
            else {}
        )
        self._kwargs: dict[str, Any] = {
            "row_factory": dict_row,
            **pool_params(dsn, NO_JIT if durable else ASYNC_COMMIT),
        }
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[DictRow]] = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=max_size,
            open=False,
            configure=_aconfigure,
            check=_acheck_if_readable,
            kwargs=self._kwargs,
            name="hatchnb-async",
            **retry,
        )

    async def open(self) -> None:
        with wrap_errors(self.dsn):
            try:
                await self.pool.open(wait=True, timeout=15)
            except PoolTimeout:
                _why_not(self.dsn, self._kwargs)
                raise

    async def close(self) -> None:
        await self.pool.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[psycopg.AsyncConnection[DictRow]]:
        with wrap_errors(), self._refused():
            async with self.pool.connection() as conn, conn.transaction():
                yield conn

    async def fetch_all(self, query: str, **params: Any) -> list[Row]:
        with wrap_errors(), self._refused():
            async with self.pool.connection() as conn:
                cur = await conn.execute(queries.get(query), params)
                return await cur.fetchall()

    async def fetch_one(self, query: str, **params: Any) -> Row | None:
        with wrap_errors(), self._refused():
            async with self.pool.connection() as conn:
                cur = await conn.execute(queries.get(query), params)
                return await cur.fetchone()

    async def execute(self, query: str, **params: Any) -> None:
        with wrap_errors(), self._refused():
            async with self.pool.connection() as conn:
                await conn.execute(queries.get(query), params)


def connect(dsn: str, options: str = "", **kwargs: Any) -> psycopg.Connection[Any]:
    """``psycopg.connect`` for a connection of its own (engine duties on threads, a client's
    run waiter, LISTEN, session locks), straight to the server (``direct_dsn``): with the
    liveness parameters, a cut link fails its queries after about HATCHNB_WORKER_TIMEOUT
    seconds instead of TCP's 15 minutes."""
    direct = direct_dsn(dsn)
    return psycopg.connect(direct, **kwargs, **liveness_params(direct, options))


async def connect_async(
    dsn: str, application_name: str = "hatchnb"
) -> psycopg.AsyncConnection[DictRow]:
    """A dedicated autocommit connection (LISTEN, leader lock), straight to the server."""
    direct = direct_dsn(dsn)
    with wrap_errors(direct):
        return await psycopg.AsyncConnection.connect(
            direct,
            autocommit=True,
            row_factory=dict_row,
            application_name=application_name,
            **liveness_params(direct, ""),
        )
