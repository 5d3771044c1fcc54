"""``visemic serve``: the HTTP API, jobs, the streaming WebSocket and the web page.

Build the ASGI app with :func:`visemic.server.app.create_app`; :mod:`visemic.server.command`
holds the CLI subcommand. Importing this package stays light (FastAPI loads with ``app``).
"""
