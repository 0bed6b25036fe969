"""Names for groups: zero-shot with an image-text model, else from the ImageNet classes Lite0 sees inside.

The offline path scores each ImageNet class by the probability mass it gets in the group's top-5
predictions, names the group after the strongest one or two, and maps the names onto plainer words
where obvious (cat breeds -> "cat", the seashore -> "beach") with :data:`EVERYDAY`.
"""
from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import numpy as np

from ..errors import VislearnError

DEFAULT_VOCABULARY = ["beach", "sea", "mountain", "city", "street", "building", "food", "drinks", "friends", "people", "portrait",
                      "cat", "dog", "bird", "animal", "flowers", "forest", "garden", "snow", "night", "sky", "car", "boat",
                      "airplane", "rocket", "sports", "party", "document", "screenshot", "texture", "wall", "grass", "stones"]

# ImageNet-1k class index ranges -> an everyday word (indices as in timm's ImageNetInfo)
EVERYDAY_RANGES = [
    ((0, 6), "fish"), ((7, 24), "bird"), ((80, 100), "bird"), ((127, 146), "bird"), ((151, 268), "dog"), ((269, 280), "wild animal"),
    ((281, 285), "cat"), ((286, 293), "big cat"), ((300, 326), "insect"), ((924, 966), "food"), ((967, 969), "drinks"),
    ((970, 970), "mountain"), ((972, 972), "mountain"), ((973, 973), "sea"), ((975, 975), "lake"), ((976, 978), "beach"),
    ((979, 980), "mountain"), ((981, 983), "people"),
]
EVERYDAY_CLASSES = {
    "car": [407, 436, 468, 511, 609, 627, 656, 717, 751, 817], "airplane": [404, 895], "rocket": [657, 744, 812],
    "boat": [472, 484, 554, 576, 625, 628, 724, 780, 814, 833, 871, 914], "coffee": [504, 967],
    "building": [483, 497, 663, 668, 698, 832], "city": [919, 920], "flowers": [985, 738], "stones": [825],
}


def everyday_word(class_index: int) -> str | None:
    for (lo, hi), word in EVERYDAY_RANGES:
        if lo <= class_index <= hi:
            return word
    for word, indices in EVERYDAY_CLASSES.items():
        if class_index in indices:
            return word
    return None


MIN_AGREEMENT = 0.5  # share of a group's images whose own top ImageNet class is one its name stands for
MIN_MASS = 0.2  # mean top-5 probability behind the name inside the group ("pedestal / jersey" for T-shirts: 0.17)


class GroupName(NamedTuple):
    name: str  # what the gallery shows, e.g. "cat" or "seashore / sandbar", or "group 3" when no name fits
    detail: str  # the evidence: ImageNet classes and their share, or the zero-shot score
    method: str  # "imagenet-classes" | "imagenet-classes (user words)" | "zero-shot (openclip)" | "numbered"
    confident: bool = True  # False: the evidence does not support a word (shown as "low confidence")


def class_scores(top5_index: np.ndarray, top5_prob: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes,) probability mass each ImageNet class gets over the members' top-5, divided by the member count."""
    scores = np.zeros(n_classes)
    valid = top5_index >= 0
    np.add.at(scores, top5_index[valid], top5_prob[valid])
    return scores / max(len(top5_index), 1)


def _short(description: str) -> str:
    return description.split(",")[0]


def _word_classes(word: str, n_classes: int) -> list[int]:
    return [i for i in range(n_classes) if everyday_word(i) == word]


def _candidate(scores: np.ndarray, top: list[int], class_names: list[str]) -> tuple[str, list[int], float]:
    """The everyday word when the strongest classes agree on one (e.g. "cat"), else the top one or two class names;
    with the ImageNet classes the name stands for and the mass behind it (the word's classes, or the top class alone)."""
    words = Counter()
    for i in np.flatnonzero(scores):
        if (word := everyday_word(int(i))) is not None:
            words[word] += scores[i]
    if words:
        word, mass = words.most_common(1)[0]
        if mass >= 0.5 * scores[top[0]] + 1e-9 and mass >= scores[top[0]]:
            return word, _word_classes(word, len(class_names)), float(mass)
    named = [i for i in top[:2] if scores[i] >= 0.35 * scores[top[0]]]
    return " / ".join(_short(class_names[i]) for i in named), named, float(scores[top[0]])


def name_from_classes(top5_index: np.ndarray, top5_prob: np.ndarray, class_names: list[str], fallback: str = "unnamed") -> GroupName:
    """A word from the ImageNet classes the members' top-5 predictions (N, 5) share, or ``fallback`` ("group 3")
    with ``confident=False`` when the classes disagree or describe the group poorly: fewer than
    :data:`MIN_AGREEMENT` of the members have their own top class among the named ones, or the name's
    word (all its classes), or else its first class, gets less than :data:`MIN_MASS` of the top-5 probability."""
    scores = class_scores(top5_index, top5_prob, len(class_names))
    top = [int(i) for i in np.argsort(-scores)[:3] if scores[i] > 0]
    if not top:
        return GroupName(fallback, "no class predictions", "numbered", confident=False)
    name, named, mass = _candidate(scores, top, class_names)
    agreement = float(np.isin(top5_index[:, 0], named).mean())
    detail = f"{', '.join(f'{_short(class_names[i])} {scores[i]:.0%}' for i in top)}; {agreement:.0%} of images agree"
    if agreement < MIN_AGREEMENT or mass < MIN_MASS:
        return GroupName(fallback, f"low confidence, ImageNet classes disagree or fit poorly (best: {name}; {detail})", "numbered",
                         confident=False)
    return GroupName(name, detail, "imagenet-classes")


def classes_for_word(word: str, class_names: list[str]) -> list[int]:
    """ImageNet classes a user word stands for: its everyday-word classes, else classes whose names contain it."""
    word = word.strip().lower()
    by_everyday = [i for i in range(len(class_names)) if everyday_word(i) == word]
    if by_everyday:
        return by_everyday
    return [i for i, d in enumerate(class_names) if any(word == part.strip().lower() or f" {word}" in f" {part.lower()}"
                                                       for part in d.split(","))]


def name_from_user_words(words: list[str], top5_index: np.ndarray, top5_prob: np.ndarray, class_names: list[str]) -> GroupName:
    """The user word whose ImageNet classes get the most probability mass in the group."""
    mapping = {w: classes_for_word(w, class_names) for w in words}
    unknown = [w for w, cls in mapping.items() if not cls]
    if len(unknown) == len(words):
        raise VislearnError(f"--names {','.join(words)}: none of these words match an ImageNet class the offline embedder knows; "
                            f"naming groups by arbitrary words needs an image-text model: --embedder openclip:ViT-B-32 --weights FILE")
    scores = class_scores(top5_index, top5_prob, len(class_names))
    mass = {w: float(scores[cls].sum()) if cls else 0.0 for w, cls in mapping.items()}
    best = max(mass, key=mass.get)
    if mass[best] <= 0:
        return GroupName("other", f"none of {', '.join(words)} seen (no match for: {', '.join(unknown) or '-'})", "imagenet-classes (user words)")
    return GroupName(best, f"{mass[best]:.0%} of top-5 mass; no ImageNet match for: {', '.join(unknown) or '-'}", "imagenet-classes (user words)")


def zero_shot(image_nd: np.ndarray, text_qd: np.ndarray, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Best word per image by cosine between image and text embeddings: (index (N,), score (N,))."""
    sims = image_nd @ text_qd.T
    return sims.argmax(1), sims.max(1)


def name_zero_shot(centre_d: np.ndarray, text_qd: np.ndarray, words: list[str]) -> GroupName:
    index, score = zero_shot(centre_d[None], text_qd, words)
    return GroupName(words[int(index[0])], f"cosine {float(score[0]):.3f} to 'a photo of {words[int(index[0])]}'", "zero-shot (openclip)")


def unique_names(names: list[str]) -> list[str]:
    """Second and later groups with the same name get " 2", " 3"."""
    seen: Counter = Counter()
    out = []
    for n in names:
        seen[n] += 1
        out.append(n if seen[n] == 1 else f"{n} {seen[n]}")
    return out


def naming_method(names: list[GroupName]) -> str:
    """How the groups were named, in words: the method of the named groups, and how many got only a number."""
    if not names:
        return "-"
    named = [n.method for n in names if n.confident]
    unsure = len(names) - len(named)
    if not named:
        return f"numbered (ImageNet classes fit none of the {len(names)} groups: low confidence)"
    return named[0] + (f" ({unsure} of {len(names)} groups numbered: low confidence)" if unsure else "")
