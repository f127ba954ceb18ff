"""`chalice local` as `make start` and the tests run it: Chalice's own CLI, with three fixes to its
development server (not to the app):

- one request in the app at a time: the server answers in threads but Chalice keeps the request in one
  attribute of the app (`app.current_request`), which a concurrent request overwrites (aws/chalice#759;
  the maintainers suggest this lock). Lambda runs one request per instance, so this is also closer to it;
- Nagle's algorithm off on its sockets: its handler writes headers and body separately, which otherwise
  costs every answer a 40 ms delayed-ACK stall;
- every HTTP method reaches the app (TRACE, QUERY... were answered 501 by the HTTP server itself), so
  undeclared methods get the app's 405 JSON answer.

    python .chalice/local_server.py local --host 127.0.0.1 --port 8000 --no-autoreload
"""
import sys
import threading

from chalice import local
from chalice.cli import main

local.ChaliceRequestHandler.disable_nagle_algorithm = True


def _any_method(handler, name):
    if name.startswith("do_"):
        return handler._generic_handle
    raise AttributeError(name)


local.ChaliceRequestHandler.__getattr__ = _any_method

_one_at_a_time = threading.Lock()
_handle_request = local.LocalGateway.handle_request


def _serialised(gateway, *args, **kwargs):
    with _one_at_a_time:
        return _handle_request(gateway, *args, **kwargs)


local.LocalGateway.handle_request = _serialised

if __name__ == "__main__":
    sys.argv[0] = "chalice"
    sys.exit(main())
