"""The registry server: an OCI Distribution Spec v1.1 / Docker Registry HTTP API v2 server.

names.py (validation) · errors.py (the spec's error codes) · storage.py (filesystem layout) ·
uploads.py (blob upload sessions) · manifests.py (parse, verify, negotiate) · auth.py (htpasswd,
tokens, scopes) · handlers.py (one function per endpoint) · server.py (asyncio + h11 over TCP).
"""
