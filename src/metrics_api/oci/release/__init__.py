"""What a release does: resolve each variant, assemble the index, publish it, verify it.

Plus the attestations kept with each image, the OCI layout export, the reports, and the
release job itself (``job``): plan, check, then write.
"""
