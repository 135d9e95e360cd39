from __future__ import annotations

import pytest

from hatchnb.cli import build_parser


def test_worker_arguments() -> None:
    args = build_parser().parse_args(
        ["worker", "--slots", "3", "--label", "gpu=1", "--label", "zone=eu"]
    )
    assert args.slots == 3
    assert dict(args.label) == {"gpu": 1, "zone": "eu"}


def test_bad_label_says_how_to_write_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["worker", "--label", "gpu"])
    assert "key=value" in capsys.readouterr().err
