"""Command line: ``python -m simulator --port 8765``."""

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path
import signal

from .oauth import DEFAULT_REDIRECT_URIS
from .server import SimulatorConfig, SimulatorServer


def parse_args(argv: Sequence[str] | None = None) -> tuple[SimulatorConfig, str, int]:
    """Parse CLI flags into a config plus the host and port to listen on."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="Local simulator of the ev.energy API v2."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--scenario", type=Path, help="scenario JSON (default: bundled)")
    parser.add_argument("--rate-limit", type=int, default=1000, help="requests per hour")
    parser.add_argument("--time-scale", type=float, default=1.0, help="sim seconds per second")
    parser.add_argument("--access-token-ttl", type=int, default=36000, help="seconds")
    parser.add_argument("--consent-page", action="store_true", help="ask before approving")
    parser.add_argument("--client-id", default="demo-client-id")
    parser.add_argument("--client-secret", default="demo-client-secret")
    parser.add_argument(
        "--redirect-uri",
        action="append",
        metavar="REGEX",
        help="allowed redirect URI pattern (repeatable; replaces the defaults)",
    )
    args = parser.parse_args(argv)
    config = SimulatorConfig(
        scenario=args.scenario,
        rate_limit=args.rate_limit,
        access_token_ttl=args.access_token_ttl,
        time_scale=args.time_scale,
        client_id=args.client_id,
        client_secret=args.client_secret,
        consent_page=args.consent_page,
        redirect_uris=tuple(args.redirect_uri or DEFAULT_REDIRECT_URIS),
    )
    return config, args.host, args.port


async def serve(config: SimulatorConfig, host: str, port: int, stop: asyncio.Event) -> None:
    """Run the simulator until ``stop`` is set."""
    sim = SimulatorServer(config)
    url = await sim.start(host, port)
    print(f"ev.energy simulator listening on {url}", flush=True)
    try:
        await stop.wait()
    finally:
        await sim.stop()


async def _main(config: SimulatorConfig, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await serve(config, host, port, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    asyncio.run(_main(*parse_args(argv)))


if __name__ == "__main__":  # pragma: no cover - exercised by the CLI process test
    main()
