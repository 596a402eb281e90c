"""The device CLI's options and errors, through click's CliRunner (in process)."""

import json

import pytest
from click.testing import CliRunner

from device.app.cli import main

SAMPLE = "device/samples/boxed_1.png"


@pytest.fixture
def cli():
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize("command", ["recognize", "evaluate", "gui", "camera", "bench", "demo"])
def test_every_command_takes_model_runtime_and_threads(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0
    for option in ("--model", "--runtime", "--threads"):
        assert option in result.output


def test_recognize_json_through_the_runner(cli):
    result = cli("recognize", SAMPLE, "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["layout"] == "boxed"


def test_bad_option_values_are_usage_errors(cli):
    assert cli("recognize", SAMPLE, "--layout", "diagonal").exit_code == 2
    assert cli("recognize", SAMPLE, "--digits", "0").exit_code == 2
    assert cli("recognize", SAMPLE, "--threads", "0").exit_code == 2
    assert cli("recognize", SAMPLE, "--runtime", "onnx").exit_code == 2
    assert cli("recognize").exit_code == 2


def test_camera_refuses_both_sources(cli, tmp_path):
    result = cli("camera", "--camera", "0", "--source", str(tmp_path), "--no-window")
    assert result.exit_code == 2 and "not both" in result.output


def test_evaluate_without_data_names_the_flag(cli, monkeypatch):
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    result = cli("evaluate")
    assert result.exit_code == 2 and "--data" in result.output


def test_demo_reads_every_sample(cli):
    result = cli("demo")
    assert result.exit_code == 0
    truth = json.loads(open("device/samples/truth.json").read())
    assert f"{len(truth)}/{len(truth)} zip codes read correctly" in result.output
