"""The floor to compare registration with: a bare aiohttp + asyncpg endpoint that
parses the JSON body and INSERTs it as one row (table of its own, same PostgreSQL
server as the suite, a pool as large as the services' own). Run as its own process,
as a service is:

    python bench/_bare.py --dsn postgresql://... --port 18999
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

POOL = web.AppKey("pool", asyncpg.Pool)
TABLE = """CREATE TABLE IF NOT EXISTS bench_bare (
    id bigserial PRIMARY KEY,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)"""


async def insert(request: web.Request) -> web.Response:
    body = await request.json()
    async with request.app[POOL].acquire() as conn:
        row_id = await conn.fetchval(
            "INSERT INTO bench_bare (body) VALUES ($1::jsonb) RETURNING id", json.dumps(body)
        )
    return web.json_response({"id": row_id}, status=201)


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(dsn: str, pool_size: int) -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)

    async def pool(app: web.Application) -> AsyncIterator[None]:
        app[POOL] = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size)
        async with app[POOL].acquire() as conn:
            await conn.execute(TABLE)
        yield
        await app[POOL].close()

    app.cleanup_ctx.append(pool)
    app.router.add_post("/items", insert)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn")
    parser.add_argument("--port", type=int)
    parser.add_argument("--pool-size", type=int, default=10)
    args = parser.parse_args()
    if not args.dsn or not args.port:  # `make bench` runs every script here with no arguments
        print("bench/_bare.py is started by bench/pipeline.py (figure 3); nothing to run alone")
        return
    web.run_app(
        create_app(args.dsn, args.pool_size),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
