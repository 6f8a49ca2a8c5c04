"""The web app for collectors and credit managers, under `/app/` of the service.

Server-rendered pages (FastAPI, Jinja2 templates, htmx for in-place updates; assets shipped in
`static/`, no CDN) over the service's current snapshot and the workflow store. Modules:
`config` (settings), `security` (session key, CSRF, sign-in throttle), `formatting` (Jinja2
filters), `charts` (server-side PNGs), `backend` (what the pages read and write, through the
workflow store's own functions), `app` (the FastAPI app: sign-in, sessions, roles, pages).
Kept light: importing this package imports nothing else.
"""
