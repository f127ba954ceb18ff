"""`chalice local` as `make start` and the tests run it: Chalice's own CLI, with two fixes to its
development server (not to the app):

- Nagle's algorithm off on its sockets: its handler writes headers and body separately, which otherwise
  costs every answer a 40 ms delayed-ACK stall;
- every HTTP method reaches the app (TRACE, QUERY... were answered 501 by the HTTP server itself), so
  undeclared methods get the app's 405 JSON answer.

    python .chalice/local_server.py local --host 127.0.0.1 --port 8000 --no-autoreload
"""
import sys

from chalice import local
from chalice.cli import main

local.ChaliceRequestHandler.disable_nagle_algorithm = True


def _any_method(handler, name):
    if name.startswith("do_"):
        return handler._generic_handle
    raise AttributeError(name)


local.ChaliceRequestHandler.__getattr__ = _any_method

if __name__ == "__main__":
    sys.argv[0] = "chalice"
    sys.exit(main())
