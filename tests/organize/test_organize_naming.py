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


def test_disagreeing_imagenet_votes_give_a_numbered_low_confidence_name():
    # garments as ImageNet sees small grey clothes: every image votes for something else
    rng = np.random.default_rng(0)
    classes = [708, 465, 610, 869, 841, 474, 617, 735]  # pedestal, bulletproof vest, jersey, trench coat, sweatshirt, cardigan, ...
    index = np.stack([rng.permutation(classes)[:5] for _ in range(40)])
    prob = np.tile([0.2, 0.12, 0.08, 0.05, 0.04], (40, 1))
    name = name_from_classes(index, prob, NAMES, fallback="group 3")
    assert name.name == "group 3" and not name.confident and name.method == "numbered"
    assert "low confidence" in name.detail


def test_a_weak_top_class_is_not_a_name_even_when_images_agree_on_it():
    index = np.array([[708, 610, 465, 869, 841]] * 10)  # pedestal 17%, jersey 13%: "pedestal / jersey" for T-shirts
    prob = np.array([[0.17, 0.13, 0.1, 0.05, 0.05]] * 10)
    assert not name_from_classes(index, prob, NAMES, fallback="group 1").confident


def test_agreeing_confident_votes_keep_their_name():
    index = np.array([[285, 281, 282, 0, 1]] * 9 + [[1, 285, 281, 282, 0]])
    prob = np.array([[0.6, 0.2, 0.1, 0.05, 0.05]] * 10)
    name = name_from_classes(index, prob, NAMES, fallback="group 1")
    assert name.name == "cat" and name.confident and "90% of images agree" in name.detail


def test_the_naming_summary_counts_numbered_groups():
    from vislearn.organize.naming import GroupName, naming_method

    named, unsure = GroupName("cat", "", "imagenet-classes"), GroupName("group 2", "", "numbered", confident=False)
    assert naming_method([named, unsure]) == "imagenet-classes (1 of 2 groups numbered: low confidence)"
    assert naming_method([unsure]).startswith("numbered (ImageNet classes fit none")
    assert naming_method([named]) == "imagenet-classes"
