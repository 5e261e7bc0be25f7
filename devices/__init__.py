"""Devices: the catalog, transports (local, ADB, SSH), backends and timing runners, microcontrollers.

Calling the package, `edgelat.devices()`, is the API's `edgelat.api.devices` (the catalog)."""

from edgelat.core.verb_module import make_callable

make_callable(__name__, "edgelat.api:devices")
