"""Talking to registries: the transport (HTTP, TLS, auth, retries) and the API on top of it.

Also where credentials come from (Docker config, credential helpers), which authorities
are trusted, and blobs streamed and copied between registries, checked on the way.
"""
