"""What the OCI specifications define: digests, media types, references, platforms, manifests.

Pure data and parsing, no I/O: everything else in the core speaks in these types.
"""
