"""``hatchnb api`` (the HTTP API alone) and ``hatchnb server`` (the API and the dashboard
in one process, each on its own port)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hatchnb import Hatchet


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    api = sub.add_parser("api", help="serve the HTTP API (docs at /api/docs)")
    server = sub.add_parser("server", help="serve the HTTP API and the dashboard")
    for parser in (api, server):
        parser.add_argument("--address", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=8080, help="the API's port")
        parser.add_argument(
            "--no-auth",
            action="store_true",
            help="no bearer tokens: every caller is an admin (only on a loopback address)",
        )
    server.add_argument("--dashboard-port", type=int, default=8765, help="the dashboard's port")


def run(args: argparse.Namespace, client: Hatchet) -> int:
    from hatchnb import errors
    from hatchnb.api.auth import AuthMode
    from hatchnb.api.serve import serve_api

    auth = AuthMode(required=not args.no_auth)
    try:
        auth.check_address(args.address)
        if args.command == "server":
            from hatchnb.dashboard.serve import start_dashboard

            dashboard = start_dashboard(client, address=args.address, port=args.dashboard_port)
            print(f"hatchnb dashboard: {dashboard.url}", flush=True)
        print(f"hatchnb API: http://{args.address}:{args.port}/api/docs", flush=True)
        serve_api(client, address=args.address, port=args.port, auth=auth)
    except errors.ConfigurationError as exc:
        print(f"hatchnb {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
