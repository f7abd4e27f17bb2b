"""The web UI and JSON API behind ``logwright ui`` (needs the ``logwright[ui]`` extra).

:func:`logwright.server.app.create_app` builds the Starlette app; see README.md here.
"""
