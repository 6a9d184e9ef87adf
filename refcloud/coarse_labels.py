"""ImageNet's 1000 classes (EfficientNet-Lite0's labels) grouped into the coarse names the
naming judge answers: `vehicle`, `animal`, `person`; everything else is `other`.

The groups are lists of class *names* as the model's labels file spells them (checked
against it when the judge loads, so a renamed or shifted label fails loudly, not
silently). ImageNet has almost no class for a person, so a crop of someone walking
comes back as what they wear: clothing and carried things count as `person` (a coat
that moves has someone in it). Animals are ImageNet's first 398 classes, `tench` to
`puffer` (WordNet's organisms), given as that range.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ANIMAL", "ANIMAL_RANGE", "COARSE", "OTHER", "PERSON", "VEHICLE", "coarse_indices"]

VEHICLE = "vehicle"
ANIMAL = "animal"
PERSON = "person"
OTHER = "other"

ANIMAL_RANGE = ("tench", "puffer")
"""First and last of the contiguous animal classes (indices 0-397)."""

COARSE: dict[str, tuple[str, ...]] = {
    VEHICLE: (
        # road vehicles
        "ambulance", "amphibian", "beach wagon", "cab", "convertible", "fire engine",
        "forklift", "garbage truck", "go-kart", "golfcart", "half track", "jeep",
        "limousine", "minibus", "minivan", "Model T", "moving van", "passenger car",
        "pickup", "police van", "racer", "recreational vehicle", "school bus", "snowplow",
        "sports car", "tank", "tow truck", "tractor", "trailer truck", "trolleybus",
        "harvester", "thresher", "lawn mower", "mobile home",
        # two and three wheels, carts
        "bicycle-built-for-two", "mountain bike", "moped", "motor scooter", "tricycle",
        "unicycle", "jinrikisha", "horse cart", "oxcart", "shopping cart",
        # rail
        "bullet train", "electric locomotive", "steam locomotive", "freight car",
        "streetcar",
        # parts that show when a vehicle fills the crop
        "car mirror", "car wheel", "grille",
    ),
    PERSON: (
        "ballplayer", "groom", "scuba diver",
        "abaya", "academic gown", "apron", "backpack", "bikini", "bonnet", "brassiere",
        "bulletproof vest", "cardigan", "cloak", "cowboy hat", "crash helmet",
        "football helmet", "fur coat", "gown", "hoopskirt", "jean", "jersey", "kimono",
        "lab coat", "military uniform", "miniskirt", "overskirt", "pajama", "poncho",
        "sarong", "ski mask", "sombrero", "stole", "suit", "sweatshirt", "swimming trunks",
        "trench coat", "umbrella", "vestment", "wig", "Windsor tie", "bow tie",
    ),
}  # fmt: skip
"""Class names per coarse label (animals: `ANIMAL_RANGE`)."""


def coarse_indices(labels: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Each coarse label's class indices in `labels`; ValueError when a name is missing."""
    index: dict[str, int] = {}
    for i, name in enumerate(labels):
        index.setdefault(name, i)  # "cardigan" (the jacket) comes after "Cardigan" (the dog)
    missing = [n for names in COARSE.values() for n in names if n not in index]
    first, last = (index.get(n) for n in ANIMAL_RANGE)
    if missing or first is None or last is None:
        gone = [*missing, *(n for n in ANIMAL_RANGE if n not in index)]
        raise ValueError(f"labels without these ImageNet classes: {', '.join(gone)}")
    out = {label: tuple(sorted({index[n] for n in names})) for label, names in COARSE.items()}
    out[ANIMAL] = tuple(range(first, last + 1))
    return out
