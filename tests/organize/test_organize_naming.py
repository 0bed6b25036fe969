import numpy as np
import pytest

from vislearn.errors import VislearnError
from vislearn.organize.embedders import imagenet_class_names
from vislearn.organize.naming import classes_for_word, name_from_classes, name_from_user_words, unique_names, zero_shot

NAMES = imagenet_class_names()


def test_cat_breeds_are_named_cat():
    index = np.array([[285, 281, 282, 0, 1]] * 4)  # Egyptian cat, tabby, tiger cat, tench, goldfish
    prob = np.array([[0.6, 0.2, 0.1, 0.05, 0.05]] * 4)
    name = name_from_classes(index, prob, NAMES)
    assert name.name == "cat" and name.method == "imagenet-classes"
    assert name.detail.startswith("Egyptian cat 60%, tabby 20%")


def test_classes_without_an_everyday_word_name_the_group_by_class():
    index = np.array([[615, 618, 620, 621, 622]] * 2)  # knee pad, ladle, laptop, lawn mower, lens cap
    prob = np.array([[0.5, 0.3, 0.1, 0.05, 0.05]] * 2)
    assert name_from_classes(index, prob, NAMES).name == "knee pad / ladle"


def test_user_words_map_onto_imagenet_classes():
    assert set(classes_for_word("cat", NAMES)) == {281, 282, 283, 284, 285}
    assert classes_for_word("seashore", NAMES) == [978]
    index = np.array([[978, 977, 285, 1, 2]])
    prob = np.array([[0.5, 0.3, 0.1, 0.05, 0.05]])
    assert name_from_user_words(["cat", "beach", "friends"], index, prob, NAMES).name == "beach"
    with pytest.raises(VislearnError, match="needs an image-text model"):
        name_from_user_words(["friends", "holiday"], index, prob, NAMES)


def test_zero_shot_picks_the_closest_text():
    image = np.array([[1.0, 0.0], [0.0, 1.0]])
    text = np.array([[0.0, 1.0], [0.8, 0.6]])
    index, score = zero_shot(image, text, ["dog", "beach"])
    assert list(index) == [1, 0] and score[0] == pytest.approx(0.8)


def test_duplicate_names_get_numbers():
    assert unique_names(["cat", "dog", "cat", "cat"]) == ["cat", "dog", "cat 2", "cat 3"]
