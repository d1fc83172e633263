"""moto's AWS emulator as a WSGI application, for a keep-alive HTTP server.

`python -m moto.server` (Werkzeug's development server) closes the connection after every
response, so each call would pay a TCP handshake that DynamoDB does not cost: wrong for the
benchmark's latency and CPU figures. devstack serves this application with gunicorn's
threaded worker instead (one process: moto keeps its state in memory).
"""

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

application = DomainDispatcherApplication(create_backend_app)
