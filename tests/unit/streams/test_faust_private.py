"""The fence around Faust's internals (streams/faust_private.py): every private name it relies on
still exists in the installed faust-streaming, mode-streaming and aiokafka with the shape it
expects, so an upgrade that changes one fails here, naming the package, its version and the name."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiokafka
import faust
import mode
import pytest
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaDriverConsumer

import streams.faust_private
from core.settings import Settings
from streams.app import create_app
from streams.faust_private import BatchConsumer, StreamsApp


def _broken(package: str, name: str, how: str) -> str:
    return f"{package} {version(package)} changed {name}: update streams/faust_private.py ({how})"


@dataclass(frozen=True)
class Method:
    """A private method the fence overrides or calls: its parameters, and whether it is async."""

    package: str
    owner: type
    name: str
    parameters: tuple[str, ...]
    is_async: bool

    @property
    def label(self) -> str:
        return f"{self.owner.__name__}.{self.name}"


METHODS = [
    Method("faust-streaming", faust.App, "_new_consumer", ("self",), False),
    Method("faust-streaming", faust.App, "_on_partitions_revoked", ("self", "revoked"), True),
    Method(
        "faust-streaming",
        faust.App,
        "_on_partitions_assigned",
        ("self", "assigned", "generation_id"),
        True,
    ),
    Method("faust-streaming", Consumer, "_drain_messages", ("self", "fetcher"), True),
    Method("faust-streaming", AIOKafkaDriverConsumer, "_new_consumer_thread", ("self",), False),
    Method(
        "faust-streaming",
        Consumer,
        "_add_gap",
        ("self", "tp", "offset_from", "offset_to"),
        True,
    ),
    Method(
        "faust-streaming",
        AIOKafkaConsumerThread,
        "_create_worker_consumer",
        ("self", "transport"),
        False,
    ),
    Method("mode-streaming", mode.Worker, "_on_sigterm", ("self",), False),
    Method("mode-streaming", mode.Worker, "_on_sigint", ("self",), False),
]


@pytest.mark.parametrize("method", METHODS, ids=[m.label for m in METHODS])
def test_faust_private_method_has_the_expected_signature(method: Method) -> None:
    """Each private method the fence overrides or calls exists, with the same parameters."""
    found = inspect.getattr_static(method.owner, method.name, None)
    if found is None:
        pytest.fail(_broken(method.package, method.label, "it is gone"))
    parameters = tuple(inspect.signature(found).parameters)
    if parameters != method.parameters:
        pytest.fail(
            _broken(
                method.package, method.label, f"parameters {parameters}, were {method.parameters}"
            )
        )
    if inspect.iscoroutinefunction(found) != method.is_async:
        pytest.fail(_broken(method.package, method.label, f"async is now {not method.is_async}"))


# Faust methods the fence carries a modified copy of: a change to Faust's original (a fix, a new
# step) must be carried over by hand, so any change to its source fails here.
COPIED = {
    "Consumer._drain_messages": (
        Consumer._drain_messages,
        "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417",
    ),
    "App._new_consumer": (
        faust.App._new_consumer,
        "bff6ccd646b71ea99a7e7a7d1c62adbf3d34432a0b42a39e6f60b4c0307d89c8",
    ),
}


@pytest.mark.parametrize("name", sorted(COPIED))
def test_faust_private_copied_method_is_unchanged(name: str) -> None:
    """The Faust code the fence's overrides were copied from is the code they were copied from."""
    original, digest = COPIED[name]
    found = hashlib.sha256(inspect.getsource(original).encode()).hexdigest()
    if found != digest:
        pytest.fail(
            _broken(
                "faust-streaming",
                name,
                f"the override is a copy of it: carry the change over, then set its digest "
                f"here to {found}",
            )
        )


def _worker_consumer(tmp_path: Path) -> Any:
    """The worker app's consumer, built (not started) with a broker it never contacts."""

    async def build() -> Any:
        settings = Settings(
            kafka={"bootstrap_servers": "127.0.0.1:1"},
            stream={"app_id": "faust-private-test"},
            run_dir=tmp_path,
        )
        return create_app(settings).consumer

    return asyncio.run(build())


def _aiokafka_consumer() -> Any:
    async def build() -> Any:
        return aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")

    return asyncio.run(build())


@dataclass(frozen=True)
class Attribute:
    """A private attribute the fence reads or sets on an instance, and the type it must have."""

    package: str
    label: str
    instance: Callable[[Path], Any]
    name: str
    check: Callable[[Any], bool]
    expected: str


ATTRIBUTES = [
    Attribute(
        "faust-streaming",
        "Consumer._read_offset",
        _worker_consumer,
        "_read_offset",
        lambda v: isinstance(v, dict),
        "a dict of TP → offset",
    ),
    Attribute(
        "faust-streaming",
        "Consumer._committed_offset",
        _worker_consumer,
        "_committed_offset",
        lambda v: isinstance(v, dict),
        "a dict of TP → offset",
    ),
    Attribute(
        "mode-streaming",
        "Service._stopped",
        lambda _: mode.Service(),
        "_stopped",
        lambda v: callable(getattr(v, "is_set", None)),
        "an event with is_set()",
    ),
    Attribute(
        "aiokafka",
        "AIOKafkaConsumer._fetch_max_wait_ms",
        lambda _: _aiokafka_consumer(),
        "_fetch_max_wait_ms",
        lambda v: isinstance(v, int),
        "an int (ms)",
    ),
    Attribute(
        "aiokafka",
        "AIOKafkaConsumer._fetch_min_bytes",
        lambda _: _aiokafka_consumer(),
        "_fetch_min_bytes",
        lambda v: isinstance(v, int),
        "an int (bytes)",
    ),
    Attribute(
        "aiokafka",
        "AIOKafkaConsumer._fetcher",
        lambda _: _aiokafka_consumer(),
        "_fetcher",
        lambda v: v is None,
        "None until start()",
    ),
]


@pytest.mark.parametrize("attribute", ATTRIBUTES, ids=[a.label for a in ATTRIBUTES])
def test_faust_private_attribute_has_the_expected_type(
    attribute: Attribute, tmp_path: Path
) -> None:
    """Each private attribute the fence reads or sets exists on a fresh instance, as expected."""
    instance = attribute.instance(tmp_path)
    missing = object()
    value = getattr(instance, attribute.name, missing)
    if value is missing:
        pytest.fail(_broken(attribute.package, attribute.label, "it is gone"))
    if not attribute.check(value):
        pytest.fail(
            _broken(
                attribute.package,
                attribute.label,
                f"{type(value).__name__}, expected {attribute.expected}",
            )
        )


def test_faust_private_worker_app_uses_the_fence(tmp_path: Path) -> None:
    """The worker's app and consumer are the fence's classes (Faust still calls the hooks)."""
    consumer = _worker_consumer(tmp_path)
    assert isinstance(consumer, BatchConsumer)
    assert isinstance(consumer.app, StreamsApp)


def test_faust_private_docstring_lists_every_checked_name() -> None:
    """The fence's docstring and this test name the same private names: none unlisted, none
    unchecked."""
    doc = streams.faust_private.__doc__ or ""
    listed = {
        name.split(".", 1)[1] if name.startswith("faust.") else name
        for name in re.findall(r"``([\w.]+\._\w+)", doc)
    }
    checked = {m.label for m in METHODS} | {a.label for a in ATTRIBUTES}
    assert listed == checked
