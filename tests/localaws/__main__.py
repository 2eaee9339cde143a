"""`make local-aws`: the local AWS in the foreground on 127.0.0.1:$LOCAL_AWS_PORT (default 4566).

Prints one JSON line (``{"endpoint", ...}``) when it listens, then serves until interrupted (Ctrl-C,
SIGTERM) or, with ``--until-stdin-closes``, until its standard input closes (how tests and the demo keep
it from outliving them).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .server import Config, LocalAws


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m localaws", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, help="port (default LOCAL_AWS_PORT, else 4566; 0 picks a free one)")
    parser.add_argument("--until-stdin-closes", action="store_true", help="stop when standard input closes")
    args = parser.parse_args(argv)
    config = Config.from_env()
    if args.port is not None:
        config.port = args.port
    aws = LocalAws(config).start()
    print(json.dumps({"endpoint": aws.endpoint, "tick": config.tick, "minute": config.minute,
                      "lambda_endpoint": config.lambda_endpoint}), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    if args.until_stdin_closes:
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    else:
        print(f"local AWS on {aws.endpoint} (tick {config.tick}s, a minute is {config.minute}s); Ctrl-C stops it",
              file=sys.stderr, flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    aws.stop()


if __name__ == "__main__":
    main()
