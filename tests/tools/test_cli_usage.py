"""A mistyped flag: the verb's own usage, the closest flag, exit status 2."""
from __future__ import annotations

import pytest

from tools.cli import main


@pytest.mark.parametrize("argv, verb, hint", [
    (["run", "--seq", "X", "--max-distence", "0.3"], "track run", "(did you mean --max-distance?)"),
    (["run", "--apperance=hist"], "track run", "(did you mean --appearance?)"),
    (["data", "fetch", "MOT16", "--dat-root", "x"], "track data fetch", "(did you mean --data-root?)"),
    (["run", "--bogus"], "track run", None),
])
def test_a_flag_typo_shows_the_verbs_usage_and_the_closest_flag(argv, verb, hint, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: {verb} ") and f"{verb}: error: unrecognized arguments: " in err
    last = err.strip().splitlines()[-1]
    if hint:
        assert last.endswith(hint)
    else:
        assert "did you mean" not in last
