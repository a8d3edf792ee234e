"""MNISTDataModule on IDX files written here, read by torchvision; no test downloads anything."""

import pytest
import torch
from helpers.mnist_files import write_fake_mnist
from helpers.paths import CONFIGS, MNIST10K
from torchvision import datasets

from latent_probe.data import InMemoryDataset, MNISTDataModule
from latent_probe.errors import ConfigError, UnknownNameError


def make(root, **kwargs) -> MNISTDataModule:
    data = MNISTDataModule(root=str(root), download=False, val_size=32, batch_size=16, **kwargs)
    data.setup()
    return data


def test_reads_idx_files_into_splits_with_shapes_and_names(fake_mnist):
    data = make(fake_mnist)
    assert {name: len(data.dataset(name)) for name in ("train", "val", "test")} == {"train": 224, "val": 32, "test": 64}
    assert data.image_shape == data.input_shape == (1, 28, 28)
    assert data.num_classes == 10 and list(data.class_names) == [str(d) for d in range(10)]
    image, label = data.dataset("test")[3]
    assert image.shape == (1, 28, 28) and int(label) == 3
    reference = datasets.MNIST(str(fake_mnist), train=False)
    assert torch.equal(data.data_spec().to_pixels(image[None])[0, 0].mul(255).round().byte(), reference.data[3])


def test_normalize_and_flatten(fake_mnist):
    raw = make(fake_mnist, normalize=False, flatten=True)
    x = raw.dataset("train").tensors[0]
    assert raw.input_shape == (784,) and raw.image_shape == (1, 28, 28) and x.shape == (224, 784)
    assert 0 <= x.min() and x.max() == 1
    normalized = make(fake_mnist).dataset("train").tensors[0]
    assert torch.allclose(normalized.flatten(1), (x - 0.1307) / 0.3081, atol=1e-5)


def test_in_memory_and_per_item_pipelines_agree(fake_mnist):
    fast, slow = make(fake_mnist, in_memory=True), make(fake_mnist, in_memory=False)
    assert isinstance(fast.dataset("val"), InMemoryDataset) and not isinstance(slow.dataset("val"), InMemoryDataset)
    for split in ("train", "val", "test"):
        fast_x, fast_y = next(iter(fast._loader(split, shuffle=False)))
        slow_x, slow_y = next(iter(slow._loader(split, shuffle=False)))
        assert torch.allclose(fast_x, slow_x, atol=1e-6) and torch.equal(fast_y, slow_y)


def test_in_memory_loader_batches_and_shuffles(fake_mnist):
    data = make(fake_mnist)
    loader = data.train_dataloader()
    first = torch.cat([y for _, y in loader])
    loader.sampler.set_epoch(1)  # Lightning does this each epoch; the order is a function of (seed, epoch)
    second = torch.cat([y for _, y in loader])
    loader.sampler.set_epoch(0)
    again = torch.cat([y for _, y in data.train_dataloader()])
    assert len(first) == 224 and not torch.equal(first, second) and torch.equal(first, again)
    assert torch.equal(first.sort().values, second.sort().values)
    x, y = next(iter(data.val_dataloader()))
    assert x.shape == (16, 1, 28, 28) and y.dtype == torch.int64


def test_download_true_with_files_present_reads_them(fake_mnist):
    data = MNISTDataModule(root=str(fake_mnist), download=True, val_size=32)
    data.prepare_data()  # torchvision finds the files and skips the download
    data.setup()
    assert len(data.dataset("test")) == 64


def test_other_datasets_by_option(tmp_path):
    root = write_fake_mnist(tmp_path, dataset="FashionMNIST")
    data = make(root, dataset="FashionMNIST")
    assert data.class_names[0] == "T-shirt/top" and len(data.dataset("train")) == 224


def test_missing_files_say_where_and_how_to_fix(tmp_path):
    with pytest.raises(ConfigError) as error:
        MNISTDataModule(root=str(tmp_path / "nowhere"), download=False)
    message = str(error.value)
    assert "nowhere" in message and "download" in message and "\n" not in message


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [({"dataset": "EMNIST"}, UnknownNameError), ({"val_size": 0}, ConfigError), ({"batch_size": 0}, ConfigError)],
)
def test_bad_options_are_config_errors(kwargs, expected):
    with pytest.raises(expected):
        MNISTDataModule(**kwargs)


def test_val_size_must_leave_training_images(fake_mnist):
    with pytest.raises(ConfigError, match="val_size"):
        MNISTDataModule(root=str(fake_mnist), download=False, val_size=256).setup()


def test_missing_data_through_the_cli_is_one_line_exit_2(run_cli, tmp_path):
    result = run_cli("fit", "--config", str(CONFIGS / "mlp_influence.yaml"),
                     "--data.root", str(tmp_path / "empty"), "--data.download", "false")
    assert result.code == 2 and "Traceback" not in result.err
    lines = [line for line in result.err.splitlines() if line.startswith("latent-probe: error:")]
    assert len(lines) == 1 and "MNIST not found under root" in lines[0] and "download true" in lines[0]
    assert not (tmp_path / "runs").exists(), "the missing data is found before any run folder is written"


@pytest.mark.skipif(not (MNIST10K / "MNIST" / "raw").is_dir(), reason="the offline MNIST-10k folder is not here")
def test_offline_mnist10k_split_sizes():
    data = MNISTDataModule(root=str(MNIST10K), download=False)
    data.setup()
    assert {name: len(data.dataset(name)) for name in ("train", "val", "test")} == {"train": 7000, "val": 1000, "test": 2000}
