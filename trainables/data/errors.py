"""Dataset errors: each names the path or category at fault, so a user can fix it."""
from __future__ import annotations


class DatasetError(ValueError):
    """Base class: something about the dataset on disk is not usable."""


class DatasetNotFoundError(DatasetError):
    pass


class UnknownCategoryError(DatasetError):
    pass


class EmptyTrainSetError(DatasetError):
    pass


class ImageReadError(DatasetError):
    pass


class MissingMaskError(DatasetError):
    pass


class MissingImageError(DatasetError):
    """A split file (VisA's ``split_csv/1cls.csv``) names an image that is not on disk."""


class MaskSizeError(DatasetError):
    pass


class ChecksumError(DatasetError):
    pass


class DownloadError(DatasetError):
    """A dataset archive could not be downloaded (the message names the dataset and URL)."""
