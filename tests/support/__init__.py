"""Test infrastructure shared by the integration and end-to-end tests.

A plain package (tests import it as ``support``; pytest needs ``pythonpath = ["tests"]``)
because pytest runs with ``--import-mode=importlib``, where test modules cannot import
each other. Modules:

- ``proc``: ``run()``/``run_bytes()`` with timeouts and errors naming the package to install.
- ``registry``: a real CNCF distribution registry per test session (``start_registry()``).
- ``registry_kinds``: the other implementations (distribution v3, go-containerregistry's)
  and how each differs; ``go_tools``: their pinned ``go install``.
- ``containers``: isolated buildah/skopeo/podman storage and config; arm64 binfmt.
- ``images``: tiny FROM-scratch images per platform, ``push()``, skopeo inspection.
- ``docker29``: Docker-29-style index + attestation around a pushed image; raw HTTP.
- ``bases``: cached local stand-ins for the app Dockerfiles' base images, app builds,
  ``podman run`` of pushed images.
"""
