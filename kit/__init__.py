"""Fast-Track Kit runtime: plugin manager, bus, supervisor, recipe engine, CLI.

The public surface for plugin authors is small: :data:`hookimpl` to mark hook
implementations, the component base classes in :mod:`kit.components`, and the payload
models in :mod:`kit.payloads`. ``kit`` never imports ``textual``.
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

#: Version of the plugin API (hooks, component base classes, bus contract). Plugins declare
#: the range they support in their manifest; the minor number grows with additions only.
API_VERSION = "1.0"

#: Marker for hook implementations: ``@kit.hookimpl def register_components(register): …``
hookimpl = pluggy.HookimplMarker("kit")

__all__ = ["API_VERSION", "__version__", "hookimpl"]
