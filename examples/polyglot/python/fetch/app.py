"""`get(url)`: one HTTP GET through `wasi:http/outgoing-handler` (world `fetch`, wit/world.wit).

Built without `--stub-wasi`, so it imports what the Python runtime needs besides
(`wasi:cli`, `wasi:filesystem`, `wasi:sockets`…).
"""

import asyncio
from urllib import parse

import wit_world
from componentize_py_types import Err
from poll_loop import PollLoop, Stream, send
from wit_world import Response
from wit_world.imports.types import (
    Fields,
    OutgoingRequest,
    Scheme,
    Scheme_Http,
    Scheme_Https,
    Scheme_Other,
)


async def fetch(url: str) -> Response:
    parts = parse.urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError("not an absolute URL")
    scheme: Scheme
    if parts.scheme == "http":
        scheme = Scheme_Http()
    elif parts.scheme == "https":
        scheme = Scheme_Https()
    else:
        scheme = Scheme_Other(parts.scheme)
    request = OutgoingRequest(Fields())
    request.set_scheme(scheme)
    request.set_authority(parts.netloc)
    request.set_path_with_query((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))

    response = await send(request)
    status = response.status()
    stream = Stream(response.consume())
    body = bytearray()
    while (chunk := await stream.next()) is not None:
        body += chunk
    return Response(status=status, body=body.decode("utf-8", "replace"))


class WitWorld(wit_world.WitWorld):
    def get(self, url: str) -> Response:
        loop = PollLoop()
        asyncio.set_event_loop(loop)
        try:
            return loop.run_until_complete(fetch(url))
        except Err as e:
            raise Err(f"GET {url}: {e.value}")
        except Exception as e:
            raise Err(f"GET {url}: {e}")
