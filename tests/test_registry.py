"""The registry: register, get, list with filters, duplicates and unknown names."""

import pytest

import latent_probe
from latent_probe.errors import UnknownNameError
from latent_probe.registry import Registry, filter_names, first_doc_line


def make_registry():
    registry = Registry("widget")

    @registry.register()
    class Layer10:
        """Tenth."""

        def __init__(self, size=1):
            self.size = size

    @registry.register("layer2")
    class Second:
        pass

    @registry.register()
    class Other:
        pass

    return registry


def test_register_get_and_kwargs():
    registry = make_registry()
    widget = registry.get("Layer10", size=4)
    assert widget.size == 4 and "Layer10" in registry and len(registry) == 3


def test_list_is_naturally_sorted_and_filtered():
    registry = make_registry()
    assert registry.list() == ["layer2", "Layer10", "Other"]
    assert registry.list(include="[Ll]ayer*") == ["layer2", "Layer10"]
    assert registry.list(exclude=["*10", "Oth*"]) == ["layer2"]
    assert filter_names(["a12", "a3", "a1"]) == ["a1", "a3", "a12"]


def test_duplicate_name_raises():
    registry = make_registry()
    with pytest.raises(ValueError, match="already registered"):

        @registry.register("Other")
        class Impostor:
            pass


def test_unknown_name_lists_close_matches_first():
    registry = make_registry()
    with pytest.raises(UnknownNameError) as info:
        registry.get("Othr")
    message = str(info.value)
    assert message.startswith("unknown widget 'Othr'; valid choices: Other,")
    assert "layer2" in message and "Layer10" in message


def test_builtins_are_registered_with_docs():
    assert "DeepMLP" in latent_probe.list_models()
    assert "Toy2DDataModule" in latent_probe.list_datamodules()
    for name in latent_probe.list_models() + latent_probe.list_datamodules() + latent_probe.list_probes():
        registry = next(r for r in (latent_probe.MODELS, latent_probe.DATAMODULES, latent_probe.PROBES) if name in r)
        assert first_doc_line(registry.resolve(name)), f"{name} has no docstring"


def test_the_table_of_builtins_says_what_their_classes_say():
    """``registry.BUILTINS`` (what `latent-probe list` shows without importing) matches every built-in class."""
    from latent_probe import data, models, probes  # noqa: F401  every built-in module, as a user would import them
    from latent_probe.registry import BUILTINS, REGISTRIES, import_builtins

    import_builtins()
    assert set(BUILTINS) == set(REGISTRIES)
    for kind, table in BUILTINS.items():
        registry = REGISTRIES[kind]
        assert set(registry._entries) >= set(table), f"{kind}: in BUILTINS but not registered on import"
        builtin_modules = {module for module, _ in table.values()}
        registered_here = {name for name, cls in registry._entries.items() if cls.__module__.startswith("latent_probe.")}
        assert registered_here == set(table), f"{kind}: registered by latent_probe but missing from BUILTINS"
        for name, (module, description) in table.items():
            cls = registry.resolve(name)
            assert (cls.__module__, cls.__qualname__) == (module, name) and module in builtin_modules
            assert description == first_doc_line(cls), name


def test_a_builtin_is_known_before_import_and_its_name_cannot_be_taken():
    registry = Registry("widget", {"Layer10": ("tests.nowhere", "Tenth.")})
    assert "Layer10" in registry and registry.list() == ["Layer10"] and registry.description("Layer10") == "Tenth."
    with pytest.raises(ValueError, match=r"already registered \(<class 'tests.nowhere.Layer10'>\)"):

        @registry.register()
        class Layer10:
            pass
