"""The `serve` subcommand every service's CLI has: uvicorn on the app factory, with our JSON
logging left in charge (no uvicorn log config, no second access log)."""

from __future__ import annotations

import argparse

import uvicorn


def add_serve_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None)


def serve(factory: str, args: argparse.Namespace, default_port: int) -> None:
    """Run ``factory`` (``"package.main:create_app"``) until interrupted."""
    uvicorn.run(
        factory,
        factory=True,
        host=args.host,
        port=args.port or default_port,
        log_config=None,
        access_log=False,
    )
