import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("MPLBACKEND", "Agg")

# Property tests: no per-example deadline (numba compiles on first call, CI has 2 slow cores),
# a moderate number of examples so the whole suite stays well inside CI's budget.
settings.register_profile(
    "default",
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", deadline=None, max_examples=400)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def _zip_raw_names(path, entries):
    """A zip whose entries have the given raw name bytes and no UTF-8 flag (0x800), as Info-ZIP
    ``zip`` on Linux writes UTF-8 names. zipfile would set the flag for any non-ASCII name, so
    each entry is written under an ASCII stand-in of the same length, then renamed in place."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        stand_ins = {}
        for i, (raw, data) in enumerate(entries.items()):
            stand_in = f"Z{i}".ljust(len(raw), "Z").encode()
            zf.writestr(stand_in.decode(), data)
            stand_ins[stand_in] = raw
    blob = path.read_bytes()
    for stand_in, raw in stand_ins.items():
        assert blob.count(stand_in) == 2  # local header and central directory
        blob = blob.replace(stand_in, raw)
    path.write_bytes(blob)
    with zipfile.ZipFile(path) as zf:
        assert all(not info.flag_bits & 0x800 for info in zf.infolist())
    return path


@pytest.fixture
def zip_raw_names():
    """``zip_raw_names(path, {raw_name_bytes: data})``: a zip with unflagged raw names."""
    return _zip_raw_names
