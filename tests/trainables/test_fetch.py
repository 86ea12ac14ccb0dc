import hashlib
import io
import tarfile

import pytest

from trainables.data.errors import ChecksumError
from trainables.data.fetch import fetch_archive


@pytest.fixture()
def archive(tmp_path):
    """A small .tar.xz in MVTec's shape, built here: no network involved."""
    path = tmp_path / "mini.tar.xz"
    with tarfile.open(path, "w:xz") as tar:
        for name, payload in [("bottle/train/good/000.png", b"x" * 5000),
                              ("bottle/test/good/000.png", b"y" * 3000), ("license.txt", b"CC BY-NC-SA")]:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_fetch_verifies_and_extracts(archive, tmp_path):
    path, digest = archive
    out = fetch_archive(path.as_uri(), tmp_path / "mvtec", sha256=digest, quiet=True)
    assert (out / "bottle" / "train" / "good" / "000.png").read_bytes() == b"x" * 5000
    assert not list(tmp_path.glob(".mvtec*"))  # no partial download or extraction left


def test_fetch_resumes_a_partial_download(archive, tmp_path):
    path, digest = archive
    data = path.read_bytes()
    part = tmp_path / ".mvtec.download.part"
    part.write_bytes(data[: len(data) // 2])
    out = fetch_archive(path.as_uri(), tmp_path / "mvtec", sha256=digest, quiet=True)
    assert (out / "license.txt").read_bytes() == b"CC BY-NC-SA"


def test_wrong_checksum_extracts_nothing(archive, tmp_path):
    path, _ = archive
    with pytest.raises(ChecksumError, match="expected 0000"):
        fetch_archive(path.as_uri(), tmp_path / "mvtec", sha256="0" * 64, quiet=True)
    assert not (tmp_path / "mvtec").exists()
