"""Device registry: CSV/YAML loading, validation with file:line:field errors, CSV writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import DeviceRecord, Facility, Registry, RegistryError, load_registry
from schemas.registry import COLUMNS, NINGBO_DISTRICTS

HEADER = ",".join(COLUMNS)
CSV_OK = f"""{HEADER}
VM-330203-0001,vending,nbvend,330203,29.8745,121.5397,,300
RS-330212-0007,recycling,greenbox,330212,29.8170,121.5590,,600
EB-0042817,mobility,citybike,330205,,,ebike,60
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_registry_csv_loads_records(tmp_path: Path) -> None:
    """A valid CSV yields typed records in file order."""
    registry = load_registry(_write(tmp_path, "devices.csv", CSV_OK))
    assert len(registry) == 3
    assert [r.device_id for r in registry] == ["VM-330203-0001", "RS-330212-0007", "EB-0042817"]
    vm = registry.get("VM-330203-0001")
    assert vm is not None
    assert (vm.facility, vm.lat, vm.lon, vm.asset_type) == (
        Facility.VENDING,
        29.8745,
        121.5397,
        None,
    )
    bike = registry.get("EB-0042817")
    assert bike is not None
    assert (bike.lat, bike.asset_type, bike.expected_interval_s) == (None, "ebike", 60)
    assert registry.get("nope") is None
    assert "EB-0042817" in registry


def test_registry_yaml_loads_same_records(tmp_path: Path) -> None:
    """YAML (a list of mappings) gives the same registry; unquoted adcodes are fine."""
    yaml_text = """
- device_id: VM-330203-0001
  facility: vending
  vendor: nbvend
  district_adcode: 330203
  lat: 29.8745
  lon: 121.5397
  expected_interval_s: 300
- device_id: RS-330212-0007
  facility: recycling
  vendor: greenbox
  district_adcode: "330212"
  lat: 29.817
  lon: 121.559
  expected_interval_s: 600
- {device_id: EB-0042817, facility: mobility, vendor: citybike, district_adcode: 330205,
   asset_type: ebike, expected_interval_s: 60}
"""
    from_yaml = load_registry(_write(tmp_path, "devices.yaml", yaml_text))
    from_csv = load_registry(_write(tmp_path, "devices.csv", CSV_OK))
    assert list(from_yaml) == list(from_csv)


def test_registry_write_csv_round_trips(tmp_path: Path) -> None:
    """write_csv produces a file load_registry reads back identically."""
    registry = load_registry(_write(tmp_path, "in.csv", CSV_OK))
    out = tmp_path / "out.csv"
    registry.write_csv(out)
    assert list(load_registry(out)) == list(registry)
    assert out.read_text(encoding="utf-8").splitlines()[0] == HEADER


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("VM1,vending,nbvend,330204,29.8,121.5,,300", ":2: district_adcode: "),
        ("VM1,vending,nbvend,330203,,,,300", ":2: lat: lat and lon are required"),
        ("VM1,vending,nbvend,330203,29.8,121.5,bike,300", ":2: asset_type: only for mobility"),
        ("EB1,mobility,citybike,330203,29.8,121.5,ebike,60", ":2: lat: lat/lon must be empty"),
        ("EB1,mobility,citybike,330203,,,,60", ":2: asset_type: required"),
        ("EB1,mobility,citybike,330203,,,scooter,60", ":2: asset_type: "),
        ("VM1,laundry,nbvend,330203,29.8,121.5,,300", ":2: facility: "),
        ("VM1,vending,NBVend,330203,29.8,121.5,,300", ":2: vendor: "),
        ("VM 1,vending,nbvend,330203,29.8,121.5,,300", ":2: device_id: "),
        ("VM1,vending,nbvend,330203,north,121.5,,300", ":2: lat: not a number"),
        ("VM1,vending,nbvend,330203,95,121.5,,300", ":2: lat: "),
        ("VM1,vending,nbvend,330203,nan,121.5,,300", ":2: lat: "),
        ("VM1,vending,nbvend,330203,29.8,121.5,,0", ":2: expected_interval_s: "),
        ("VM1,vending,nbvend,330203,29.8,121.5,,5m", ":2: expected_interval_s: not a positive"),
        ("VM1,vending,nbvend,330203,29.8,121.5,,300,extra", ":2: more values than columns"),
    ],
)
def test_registry_invalid_row_names_file_line_field(
    tmp_path: Path, row: str, expected: str
) -> None:
    """Every invalid value is reported with file, line and field."""
    path = _write(tmp_path, "devices.csv", f"{HEADER}\n{row}\n")
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    assert str(info.value).startswith(str(path))
    assert expected in str(info.value)


def test_registry_duplicate_device_names_both_lines(tmp_path: Path) -> None:
    """A device listed twice is an error naming the second line and the first."""
    row = "VM1,vending,nbvend,330203,29.8,121.5,,300"
    path = _write(tmp_path, "devices.csv", f"{HEADER}\n{row}\n{row}\n")
    with pytest.raises(RegistryError, match=r"devices\.csv:3: device_id: duplicate 'VM1'.*:2\)"):
        load_registry(path)


def test_registry_wrong_header_rejected(tmp_path: Path) -> None:
    """Unknown or missing columns are reported on line 1."""
    path = _write(tmp_path, "devices.csv", "device_id,facility,vendor,colour\n")
    with pytest.raises(RegistryError, match=r":1: unknown columns \['colour'\]"):
        load_registry(path)


def test_registry_yaml_error_names_line(tmp_path: Path) -> None:
    """YAML errors name the line where the bad device starts."""
    text = (
        "- {device_id: VM1, facility: vending, vendor: nbvend, lat: 29.8, lon: 121.5,"
        " expected_interval_s: 300}\n"
        "- device_id: VM2\n  facility: vending\n  vendor: nbvend\n  expected_interval_s: 300\n"
    )
    path = _write(tmp_path, "devices.yml", text)
    with pytest.raises(RegistryError, match=r"devices\.yml:2: lat: lat and lon"):
        load_registry(path)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("devices.yaml", "device_id: VM1\n", "expected a list"),
        ("devices.yaml", "- [1, 2]\n", "expected a mapping"),
        ("devices.yaml", "- {a: [\n", "not valid YAML"),
        ("devices.json", "[]", "expected a .csv, .yaml or .yml"),
    ],
)
def test_registry_malformed_file_rejected(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    """Wrong shapes and unsupported formats are RegistryErrors naming the file."""
    with pytest.raises(RegistryError, match=expected):
        load_registry(_write(tmp_path, name, text))


def test_registry_missing_file_is_registry_error(tmp_path: Path) -> None:
    """A missing file is reported as a RegistryError, not a bare OSError."""
    with pytest.raises(RegistryError, match="cannot read"):
        load_registry(tmp_path / "absent.csv")


def test_registry_empty_files_give_empty_registry(tmp_path: Path) -> None:
    """A header-only CSV or an empty YAML is an empty registry."""
    assert len(load_registry(_write(tmp_path, "a.csv", HEADER + "\n"))) == 0
    assert len(load_registry(_write(tmp_path, "b.yaml", ""))) == 0


def test_registry_constructor_rejects_duplicates() -> None:
    """Building a Registry in code also refuses duplicate ids."""
    record = DeviceRecord(
        device_id="EB1",
        facility=Facility.MOBILITY,
        vendor="citybike",
        asset_type="bike",
        expected_interval_s=60,
    )
    with pytest.raises(RegistryError, match="duplicate"):
        Registry([record, record])


def test_registry_ningbo_districts_are_the_ten_current_ones() -> None:
    """The ten post-2016 adcodes, bilingual; abolished 330204/330283 absent."""
    assert sorted(NINGBO_DISTRICTS) == [
        "330203", "330205", "330206", "330211", "330212",
        "330213", "330225", "330226", "330281", "330282",
    ]  # fmt: skip
    assert NINGBO_DISTRICTS["330203"] == "海曙区 Haishu District"
    assert "330204" not in NINGBO_DISTRICTS
    assert "330283" not in NINGBO_DISTRICTS
