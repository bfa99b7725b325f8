"""The web UI's foundations: assets served from the package (htmx, Swagger UI, our CSS).

Nothing is loaded from a CDN, so the UI and ``/docs`` work on a network with no internet.
See :mod:`facedocket.web.assets`.
"""
