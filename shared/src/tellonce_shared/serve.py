"""The `serve` subcommand every service's CLI has: uvicorn on the app factory, with our JSON
logging left in charge (no uvicorn log config, no second access log)."""

from __future__ import annotations

import argparse

import uvicorn

from tellonce_shared.http_protocol import CoalescingHttpProtocol


def add_serve_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: WORKERS setting)"
    )


def serve(factory: str, args: argparse.Namespace, default_port: int, workers: int = 1) -> None:
    """Run ``factory`` (``"package.main:create_app"``) until interrupted: uvloop, httptools
    with head and body of an answer in one write, ``workers`` processes."""
    uvicorn.run(
        factory,
        factory=True,
        host=args.host,
        port=args.port or default_port,
        workers=args.workers or workers,
        loop="uvloop",
        http=CoalescingHttpProtocol,
        log_config=None,
        access_log=False,
    )
