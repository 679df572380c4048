"""One module per AWS service. Each may define:

- ``PRIORITY`` (int, default 100): install order, lower first;
- ``install(server)``: patch or extend moto for this service; called once at server start;
- ``load_state(server)`` / ``save_state(server)``: persist to and from ``server.state_dir`` (when set);
- ``shutdown(server)``: stop what the service runs beside the server (processes), after the last save_state.

The server discovers the modules of this package; nothing needs registering by hand.
"""

import importlib
import pkgutil
from types import ModuleType


def service_modules() -> list[ModuleType]:
    modules = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]
    return sorted(modules, key=lambda m: (getattr(m, "PRIORITY", 100), m.__name__))
