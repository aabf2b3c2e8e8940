"""The device registry: which devices exist, who runs them, where fixed ones stand.

A CSV file with the header ``device_id,facility,vendor,district_adcode,lat,lon,asset_type,
expected_interval_s`` or a YAML list of mappings with the same keys. Fixed devices (every
facility but mobility: vending, recycling, stores, transit validators, a bus's one by its depot)
have lat/lon and no asset_type; mobile ones have an asset_type and no lat/lon.
Reading is the only I/O here, done once at start-up; errors name file, line and field.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from schemas.errors import RegistryError
from schemas.mobility import AssetType
from schemas.ningbo import NINGBO_DISTRICTS
from schemas.topic import DEVICE_ID_PATTERN, VENDOR_PATTERN, Facility

__all__ = ["COLUMNS", "NINGBO_DISTRICTS", "DeviceRecord", "Registry", "load_registry"]

COLUMNS = (
    "device_id",
    "facility",
    "vendor",
    "district_adcode",
    "lat",
    "lon",
    "asset_type",
    "expected_interval_s",
)


class DeviceRecord(BaseModel):
    """One registered device."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    device_id: str = Field(pattern=f"^{DEVICE_ID_PATTERN}$")
    facility: Facility
    vendor: str = Field(pattern=f"^{VENDOR_PATTERN}$")
    district_adcode: str | None = Field(None, description="Home district; one of NINGBO_DISTRICTS.")
    lat: float | None = Field(None, ge=-90, le=90, description="WGS-84, fixed devices only.")
    lon: float | None = Field(None, ge=-180, le=180)
    asset_type: AssetType | None = None
    expected_interval_s: int = Field(gt=0, description="Longest normal gap between messages, s.")

    @field_validator("district_adcode")
    @classmethod
    def _known_district(cls, value: str | None) -> str | None:
        if value is not None and value not in NINGBO_DISTRICTS:
            raise ValueError(
                f"{value!r} is not a current Ningbo district (330204 and 330283 were abolished "
                f"in 2016); expected one of {sorted(NINGBO_DISTRICTS)}"
            )
        return value

    @model_validator(mode="after")
    def _fixed_or_mobile(self) -> DeviceRecord:
        # Messages start with the field so that the loader can name it (root errors have no loc).
        mobile = self.facility is Facility.MOBILITY
        if mobile and self.asset_type is None:
            raise ValueError("asset_type: required for mobility devices")
        if not mobile and self.asset_type is not None:
            raise ValueError("asset_type: only for mobility devices, leave it empty")
        if mobile and (self.lat is not None or self.lon is not None):
            raise ValueError("lat: lat/lon must be empty for mobility devices")
        if not mobile and (self.lat is None or self.lon is None):
            raise ValueError("lat: lat and lon are required for fixed devices")
        return self


class Registry:
    """Devices by id, in file order."""

    def __init__(self, records: Iterable[DeviceRecord]) -> None:
        self._records: dict[str, DeviceRecord] = {}
        for record in records:
            if record.device_id in self._records:
                raise RegistryError(f"duplicate device_id {record.device_id!r}")
            self._records[record.device_id] = record

    def get(self, device_id: str) -> DeviceRecord | None:
        return self._records.get(device_id)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._records

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[DeviceRecord]:
        return iter(self._records.values())

    def write_csv(self, path: Path) -> None:
        """Write the registry in the CSV form :func:`load_registry` reads."""
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(COLUMNS)
            for r in self:
                writer.writerow(
                    [
                        r.device_id,
                        r.facility.value,
                        r.vendor,
                        r.district_adcode or "",
                        "" if r.lat is None else repr(r.lat),
                        "" if r.lon is None else repr(r.lon),
                        r.asset_type or "",
                        r.expected_interval_s,
                    ]
                )


def _record(row: Mapping[str, str], where: str) -> DeviceRecord:
    values: dict[str, Any] = {}
    for name in COLUMNS:
        raw = row.get(name, "").strip()
        if raw == "":
            continue
        if name in ("lat", "lon"):
            try:
                values[name] = float(raw)
            except ValueError:
                raise RegistryError(f"{where}: {name}: not a number: {raw!r}") from None
        elif name == "expected_interval_s":
            if not raw.isdigit():
                raise RegistryError(f"{where}: {name}: not a positive integer: {raw!r}")
            values[name] = int(raw)
        else:
            values[name] = raw
    try:
        return DeviceRecord.model_validate(values)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        msg = str(error["msg"]).removeprefix("Value error, ")
        field = ".".join(str(p) for p in error["loc"])
        raise RegistryError(f"{where}: {field}: {msg}" if field else f"{where}: {msg}") from None


def _check_columns(keys: Iterable[str], where: str) -> None:
    keys = list(keys)
    unknown = [k for k in keys if k not in COLUMNS]
    missing = [
        c for c in ("device_id", "facility", "vendor", "expected_interval_s") if c not in keys
    ]
    if unknown or missing:
        raise RegistryError(
            f"{where}: unknown columns {unknown} / missing columns {missing}; "
            f"expected {list(COLUMNS)}"
        )


def _read_csv(path: Path) -> Iterator[tuple[str, DeviceRecord]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        _check_columns(reader.fieldnames or [], f"{path}:1")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row:
                raise RegistryError(f"{where}: more values than columns")
            yield where, _record(row, where)


def _scalar(value: object) -> str:
    return "" if value is None else str(value)


def _read_yaml(path: Path) -> Iterator[tuple[str, DeviceRecord]]:
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return
    if not isinstance(data, list) or node is None:
        raise RegistryError(f"{path}:1: expected a list of device mappings")
    for item, item_node in zip(data, node.value, strict=True):
        where = f"{path}:{item_node.start_mark.line + 1}"
        if not isinstance(item, dict):
            raise RegistryError(f"{where}: expected a mapping, got {type(item).__name__}")
        _check_columns(map(str, item), where)
        # YAML types scalars itself (adcodes become ints); normalise to the CSV's text form.
        yield where, _record({str(k): _scalar(v) for k, v in item.items()}, where)


def load_registry(path: Path) -> Registry:
    """Read a registry from CSV (``.csv``) or YAML (``.yaml``/``.yml``).

    Raises:
        RegistryError: Unreadable file, wrong columns, invalid value or duplicate device id;
            the message names file, line and field.
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".yaml", ".yml"):
        raise RegistryError(f"{path}: expected a .csv, .yaml or .yml file")
    reader = _read_csv if suffix == ".csv" else _read_yaml
    first_seen: dict[str, str] = {}
    records: list[DeviceRecord] = []
    try:
        for where, record in reader(path):
            if record.device_id in first_seen:
                raise RegistryError(
                    f"{where}: device_id: duplicate {record.device_id!r} "
                    f"(first at {first_seen[record.device_id]})"
                )
            first_seen[record.device_id] = where
            records.append(record)
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise RegistryError(f"{path}: not UTF-8: {exc.reason}") from None
    return Registry(records)
