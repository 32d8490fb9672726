"""What the command line and the jobs both default to, in a module that loads nothing.

The command line is parsed before the jobs' modules load (``__main__``), so its grammar
takes these from here rather than from the modules that use them.
"""

from typing import Final

REQUEST_TIMEOUT: Final = 30.0  # seconds for one request
CONNECT_TIMEOUT: Final = 10.0  # seconds for one connection, at most
DEADLINE: Final = 600.0  # seconds for the whole job, retries included
ATTESTATION_MODES: Final = ("keep", "drop")  # what assemble does with Docker's attestations
USER_AGENT: Final = "metrics-api"  # on every request to a registry
# The largest manifest CNCF distribution stores (its default); a bigger one is not an image.
MAX_MANIFEST_BYTES: Final = 4 * 1024 * 1024
