from transformer.language.suggest import did_you_mean


def test_a_close_name_is_suggested() -> None:
    assert did_you_mean("pth", ["path", "const", "setting"]) == " (did you mean `path`?)"


def test_nothing_is_suggested_when_no_name_is_close() -> None:
    assert did_you_mean("zzzz", ["path", "const"]) == ""
