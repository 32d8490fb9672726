"""The Dagger object: each function goes from its arguments to one core call and its result.

The functions list their arguments one by one because `dagger call` derives every flag
from a function's own signature (flags follow the function they configure); what a shared
argument means is declared once, in ``arguments``. They live in three classes by what they
act on (one variant, an index, a whole release); the object is all three.
"""

from dagger import object_type

from metrics_api.index_functions import IndexFunctions
from metrics_api.release_functions import ReleaseFunctions
from metrics_api.variant_functions import VariantFunctions


@object_type
class MetricsApi(VariantFunctions, IndexFunctions, ReleaseFunctions):
    """Build metrics-api per platform and publish one verified multi-platform image."""
