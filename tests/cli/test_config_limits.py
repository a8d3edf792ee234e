"""The limits every config value passes before it is built: nesting measured on YAML events (never by recursion),
numbers within int64 and finite (named by their key), legitimate values untouched."""

from __future__ import annotations

import math

import pytest
import yaml

from latent_probe.cli.config_files import limited_yaml, option_yaml
from latent_probe.cli.names import check_option_value, is_class_name
from latent_probe.cli.numbers import check_plain_number
from latent_probe.errors import ConfigError

LEGIT = {
    "lr: 1.0e-3": {"lr": 0.001}, "lr: 0.003": {"lr": 0.003}, "clip: 0.5": {"clip": 0.5}, "n: -5": {"n": -5},
    "n: 9223372036854775807": {"n": 2**63 - 1}, "n: -9223372036854775808": {"n": -(2**63)}, "x: .5": {"x": 0.5},
    "max_time: 00:00:01:00": {"max_time": "00:00:01:00"}, "name: nan": {"name": "nan"}, "v: '1e400'": {"v": "1e400"},
    "t: 1e-3": {"t": "1e-3"}, "a: [1, 2.5, {b: 3}]": {"a": [1, 2.5, {"b": 3}]},
}


@pytest.mark.parametrize("text", list(LEGIT))
def test_legitimate_values_load_unchanged(text):
    assert limited_yaml(text, "config 'x.yaml'") == LEGIT[text]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("trainer:\n  max_epochs: 9223372036854775808", "config 'x.yaml': trainer.max_epochs must be within the 64-bit integer range"),
        ("a: [1, {b: -9223372036854775809}]", "a.1.b must be within the 64-bit integer range [-9223372036854775808, 9223372036854775807], "
         "got -9223372036854775809"),
        ("a: 0x10000000000000000", "a must be within the 64-bit integer range [-9223372036854775808, 9223372036854775807], got 0x1000"),
        ("a: .nan", "a must be a finite number, got nan (written .nan)"),
        ("a: [.inf]", "a.0 must be a finite number, got inf (written .inf)"),
        ("a: -.Inf", "a must be a finite number, got -inf (written -.Inf)"),
        ("a: 1.0e+400", "a must be a finite number, got inf (written 1.0e+400)"),
        ("a: 1e400", "a must be a finite number, got inf (written 1e400)"),  # a string to YAML 1.1, a float to jsonargparse
        ("a: !!float 1e400", "a must be a finite number, got inf (written 1e400)"),
        ("a: " + "1" * 200, "a must be within the 64-bit integer and float range, got 11111111111111111111... (200 characters)"),
        ("a: " + "1:" * 100 + "1", "must be within the 64-bit integer and float range"),  # base 60: quadratic to convert
        ("? [1]\n: x\nb: .nan", "b must be a finite number"),
    ],
)
def test_numbers_out_of_range_name_their_key(text, message):
    with pytest.raises(ConfigError) as error:
        limited_yaml(text, "config 'x.yaml'")
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "- " * 100_000 + "x", '{"a": ' * 100_000 + "1" + "}" * 100_000,
                                  "a:\n" + "".join(" " * n + "a:\n" for n in range(1, 60)) + " " * 60 + "1"])
def test_nesting_is_refused_before_the_composer_recurses(text):
    with pytest.raises(ConfigError, match=r"^--x nests deeper than 50 levels$"):
        limited_yaml(text, "--x")


def test_fifty_levels_are_fine():
    assert limited_yaml("[" * 50 + "]" * 50, "--x") is not None


def test_a_value_containing_itself_is_refused():
    with pytest.raises(ConfigError, match=r"a\.0\.1: alias \*x refers to a value that contains it"):
        limited_yaml("a:\n  - &x [1, *x]", "config 'x.yaml'")


def test_aliases_are_counted_expanded_and_shared_values_allowed():
    assert limited_yaml("a: &a [1, 2]\nb: *a\nc: *a", "c") == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}
    bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n"
                                                          for p, n in zip("abcd", "bcde"))
    with pytest.raises(ConfigError, match="expands to more than 100,000 values"):
        limited_yaml(bomb, "c")


@pytest.mark.parametrize(
    ("value", "message"),
    [("99999999999999999999", "--k must be within the 64-bit integer range"), ("-99999999999999999999", "got -99999999999999999999"),
     ("1e400", "--k must be a finite number, got inf (written 1e400)"), ("-1e400", "got -inf (written -1e400)"),
     ("9" * 5000, "(5,000 characters)")],
)
def test_plain_option_numbers_follow_jsonargparse_rule(value, message):
    with pytest.raises(ConfigError) as error:
        check_plain_number(value, "--k")
    assert message in str(error.value)


@pytest.mark.parametrize("value", ["12", "-3", "1e5", "0.001", "1.5e-3", "nan", "inf", "abc", "1.2.3", "²", "9223372036854775807"])
def test_plain_option_values_in_range_pass(value):
    check_plain_number(value, "--k")


def test_option_values_are_checked_as_yaml_and_strings_pass():
    check_option_value("--experiment", "my: run: name")  # not YAML: jsonargparse keeps the string
    check_option_value("--data.root", "/some/path")
    with pytest.raises(ConfigError, match=r"--trainer.callbacks: 0\.init_args\.patience must be a finite number, got inf"):
        check_option_value("--trainer.callbacks", "[{class_path: EarlyStopping, init_args: {patience: .inf}}]")
    with pytest.raises(ConfigError, match=r"--probes: not a valid YAML/JSON value: '\[unclosed'"):
        option_yaml("--probes", "[unclosed")
    assert math.isclose(option_yaml("--x", "1.0e-3"), 1e-3)


@pytest.mark.parametrize(("name", "valid"), [("DeepMLP", True), ("a.b.C", True), (".x", False), ("..x", False), ("x.", False),
                                             (".", False), ("a..b", False), ("", False), ("a.1b", False)])
def test_class_names_are_dotted_identifiers(name, valid):
    assert is_class_name(name) is valid


def test_yaml_syntax_errors_stay_yaml_errors():
    with pytest.raises(yaml.YAMLError):
        limited_yaml("a: [", "c")
