"""Reaching a Dask cluster: the optional extra ``optikit[dask]``, a local cluster or a scheduler's
address, and closing what a run opened (a client handed over stays the caller's)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from ..errors import SpecError

__all__ = ["Session", "connect", "dask_distributed", "FIELD", "INSTALL", "DEFAULT_CONNECT_TIMEOUT"]

#: Where errors about the cluster point: the command-line option or the keyword.
FIELD = "--dask / dask="
INSTALL = "pip install 'optikit[dask]'"
#: Seconds to wait for a scheduler before the run is refused (``OPTIKIT_DASK_TIMEOUT`` overrides).
DEFAULT_CONNECT_TIMEOUT = 5.0
_ADDRESS = re.compile(r"^(tcp|tls|ucx|inproc|ws|wss)://[^\s/]+$")


def dask_distributed() -> Any:
    """The ``distributed`` module, or a one-line error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise SpecError("running on a Dask cluster needs dask and distributed: install optikit[dask]",
                        field=FIELD, hint=INSTALL) from None
    return distributed


@dataclass
class Session:
    """A Dask client for one run, and the local cluster it started (if it started one)."""

    client: Any
    cluster: Any = None
    #: whether this session opened the client (and so closes it)
    owned: bool = False

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def close(self) -> None:
        if self.owned:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()


def _timeout() -> float:
    text = os.environ.get("OPTIKIT_DASK_TIMEOUT")
    try:
        value = float(text) if text else DEFAULT_CONNECT_TIMEOUT
    except ValueError:
        value = DEFAULT_CONNECT_TIMEOUT
    return value if value > 0 else DEFAULT_CONNECT_TIMEOUT


def connect(address: Any, timeout: float | None = None) -> Session:
    """A session on ``address``: ``"local"`` starts a ``distributed.LocalCluster`` of worker
    processes, ``"tcp://host:port"`` joins a running scheduler, a ``distributed.Client`` is used
    as it is. An address that does not answer within ``timeout`` seconds is refused."""
    distributed = dask_distributed()
    if isinstance(address, distributed.Client):
        return Session(address)
    if not isinstance(address, str) or not address.strip():
        raise SpecError(f"expected 'local' or a scheduler address such as tcp://host:8786, got {address!r}",
                        field=FIELD)
    address = address.strip()
    if address == "local":
        cluster = distributed.LocalCluster(processes=True, dashboard_address=None)
        return Session(distributed.Client(cluster), cluster, owned=True)
    if not _ADDRESS.match(address):
        raise SpecError(f"expected 'local' or a scheduler address such as tcp://host:8786, got {address!r}",
                        field=FIELD)
    wait = timeout if timeout is not None else _timeout()
    try:
        client = distributed.Client(address, timeout=wait, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SpecError(f"no Dask scheduler answered at {address} within {wait:g} s ({type(exc).__name__})",
                        field=FIELD, hint="start one with 'dask scheduler' and workers with 'dask worker ADDRESS', "
                                          "or run on this machine with --dask local") from None
    return Session(client, owned=True)
