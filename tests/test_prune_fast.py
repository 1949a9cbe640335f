"""prune in one pass gives what the rule says: no null, {} or [] at any depth, what holds only
those dropped too, order kept, "" and 0 and false kept (checked against the rule written plainly)."""
from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from transformer.language.functions import COERCIONS


def plain_rule(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {key: plain_rule(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item is not None and item != {} and item != []}
    if isinstance(value, list):
        return [item for item in map(plain_rule, value) if item is not None and item != {} and item != []]
    return value


class Bag(dict):  # type: ignore[type-arg]
    pass


LEAVES = st.none() | st.booleans() | st.integers(-2, 2) | st.floats() | st.sampled_from(["", "a", (), (1,)])
TREES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from("abcd"), inner, max_size=4)
                     | st.dictionaries(st.sampled_from("ab"), inner, max_size=2).map(Bag), max_leaves=25)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdef"), TREES, max_size=6) | st.lists(TREES, max_size=5))
def test_prune_gives_what_the_rule_gives(value: Any) -> None:
    ours, theirs = COERCIONS["prune"](value), plain_rule(value)
    assert repr(ours) == repr(theirs)  # repr: NaN and the class of each container compared too
