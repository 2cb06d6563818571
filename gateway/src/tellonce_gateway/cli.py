"""Command line of the gateway: serve (it has no database, so no migrate or seed)."""

from __future__ import annotations

import argparse

import uvicorn

from tellonce_gateway.config import get_settings
from tellonce_gateway.server import GatewayHttpProtocol


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tellonce-gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=None)
    sub.add_parser("migrate", help="nothing to do: the gateway keeps no database")
    sub.add_parser("seed", help="nothing to do: the gateway keeps no database")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "serve":
        uvicorn.run(
            "tellonce_gateway.main:create_app",
            factory=True,
            host=args.host,
            port=args.port or settings.port,
            workers=args.workers or settings.workers,
            loop="uvloop",
            http=GatewayHttpProtocol,  # httptools, head and body in one write
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_keep_alive=30,
        )


if __name__ == "__main__":
    main()
