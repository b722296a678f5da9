"""The names of the user populations recgym knows (no data is loaded here).

=================  ===============================  ==========  =================
name               source                           users K     published name
=================  ===============================  ==========  =================
synth-uniform      uniform on the simplex           10,000      synth-uniform
synth-skewed       skewed feature popularity        10,000      synth-skewed
movielens-100k     GroupLens MovieLens-100k         943         movielens-100k
rentrunway         the paper's RentTheRunway file   ~90.4k      rentrunway
amazon-music       Amazon v2 Digital Music          ~714k       amznmusic
=================  ===============================  ==========  =================

The command line, the experiments and the environment take their dataset names
from here; this module imports nothing heavy, so option parsing stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: Dataset name -> the dataset's name in the paper's published result files.
PUBLISHED_NAMES: Mapping[str, str] = MappingProxyType({
    "synth-uniform": "synth-uniform",
    "synth-skewed": "synth-skewed",
    "movielens-100k": "movielens-100k",
    "rentrunway": "rentrunway",
    "amazon-music": "amznmusic",
})
#: Every dataset name, in the order above.
DATASET_NAMES: tuple[str, ...] = tuple(PUBLISHED_NAMES)
#: Datasets generated from a seed (they read no file).
SYNTHETIC: tuple[str, ...] = ("synth-uniform", "synth-skewed")
#: Users in the paper's synthetic populations.
SYNTHETIC_USERS = 10_000


def canonical_name(name: object) -> str:
    """``name`` as a key of ``PUBLISHED_NAMES`` (a published name such as ``"amznmusic"``
    is accepted too).

    Raises
    ------
    ValueError
        Listing the names.
    """
    published = {value: key for key, value in PUBLISHED_NAMES.items()}
    if isinstance(name, str) and name in PUBLISHED_NAMES:
        return name
    if isinstance(name, str) and name in published:
        return published[name]
    raise ValueError(f"dataset name must be one of {', '.join(DATASET_NAMES)} (or a published "
                     f"name: {', '.join(sorted(set(published) - set(PUBLISHED_NAMES)))}), "
                     f"got {name!r}")
