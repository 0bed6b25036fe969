"""`vislearn serve` refuses unsafe or impossible settings with one line, before loading anything or binding a port."""
import pytest

from vislearn.cli import main
from vislearn.serve.server import api_key_from_env, is_loopback


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True), ("127.0.0.2", True),
                                                ("0.0.0.0", False), ("192.168.1.4", False), ("example.org", False)])
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def test_binding_beyond_this_computer_needs_an_api_key(classify_run, capsys):
    assert main(["serve", str(classify_run[0]), "--host", "0.0.0.0"]) == 2
    assert "--api-key-env" in capsys.readouterr().err


def test_the_api_key_variable_must_hold_a_long_key(monkeypatch, classify_run, capsys):
    monkeypatch.delenv("VISLEARN_TEST_KEY", raising=False)
    assert main(["serve", str(classify_run[0]), "--api-key-env", "VISLEARN_TEST_KEY"]) == 2
    assert "unset" in capsys.readouterr().err
    monkeypatch.setenv("VISLEARN_TEST_KEY", "short")
    with pytest.raises(Exception, match="shorter than 16"):
        api_key_from_env("VISLEARN_TEST_KEY", "0.0.0.0")
    monkeypatch.setenv("VISLEARN_TEST_KEY", "x" * 32)
    assert api_key_from_env("VISLEARN_TEST_KEY", "0.0.0.0") == "x" * 32


def test_not_a_run_folder_and_repeated_names_are_one_line_errors(tmp_path, classify_run, capsys):
    assert main(["serve", str(tmp_path)]) == 2
    assert "not a vislearn run folder" in capsys.readouterr().err
    assert main(["serve", str(classify_run[0]), str(classify_run[0])]) == 2
    assert "share the folder name" in capsys.readouterr().err
