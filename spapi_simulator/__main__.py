"""``python -m marketplaces.amazon.simulator``: the simulator without Django settings."""

from __future__ import annotations

import argparse

from .server import serve
from .state import DEFAULT_REDIRECT_URI


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m marketplaces.amazon.simulator", description="Local Amazon SP-API simulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulated seconds per real second; 0 = manual clock",
    )
    parser.add_argument("--redirect-uri", default=DEFAULT_REDIRECT_URI)
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.seed, args.time_scale, args.redirect_uri, quiet=args.quiet)


if __name__ == "__main__":
    main()
