"""Load the Dagger module the way the SDK runtime does and print what it registers, as JSON.

Run as a subprocess: the runtime's environment must be set before ``dagger`` is imported.
"""

import json
import os

os.environ.update(
    DAGGER_MODULE="metrics-api",
    DAGGER_MAIN_OBJECT="MetricsApi",
    DAGGER_DEFAULT_PYTHON_PACKAGE="metrics_api",
)

import anyio
from dagger.client.gen import Module as ApiModule
from dagger.mod.cli import load_module


async def _no_engine_id(_: ApiModule) -> str:
    return "no-engine"


def main() -> None:
    """Register every type as `dagger functions` would, then describe the functions."""
    module = load_module()
    ApiModule.id = _no_engine_id  # type: ignore[method-assign,assignment] # needs an engine
    anyio.run(module._typedefs)  # noqa: SLF001 - raises for any type Dagger cannot expose
    description = {}
    for object_name, object_type in module._objects.items():  # noqa: SLF001
        description[object_name] = {
            name: {
                "doc": function.doc,
                "cache": function.cache_policy,
                "returns": str(function.return_type),
                "args": {
                    parameter.name: {
                        "type": str(parameter.resolved_type),
                        "optional": parameter.is_optional,
                        "default": parameter.default_value,
                        "default_path": parameter.default_path,
                        "ignore": parameter.ignore,
                        "doc": parameter.doc,
                    }
                    for parameter in function.parameters.values()
                },
            }
            for name, function in object_type.functions.items()
        }
    print(json.dumps(description))  # noqa: T201 - the output is the point


if __name__ == "__main__":
    main()
