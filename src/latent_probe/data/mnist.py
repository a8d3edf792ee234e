"""MNIST and its look-alikes (Fashion-MNIST, KMNIST) through torchvision, held in memory as tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from torch.utils.data import Subset
from torchvision import datasets, transforms

from latent_probe.data.images import ImageDataModule
from latent_probe.errors import ConfigError, check_range, require_choice
from latent_probe.registry import register_datamodule

TORCHVISION_DATASETS = {"MNIST": datasets.MNIST, "FashionMNIST": datasets.FashionMNIST, "KMNIST": datasets.KMNIST}
# Mean and standard deviation of each dataset's training pixels in [0, 1] (the usual published constants).
PIXEL_STATS = {"MNIST": (0.1307, 0.3081), "FashionMNIST": (0.2860, 0.3530), "KMNIST": (0.1918, 0.3483)}
CLASS_NAMES = {
    "MNIST": tuple(str(digit) for digit in range(10)),
    "FashionMNIST": tuple(datasets.FashionMNIST.classes),
    "KMNIST": tuple(datasets.KMNIST.classes),
}
OFFLINE_HINT = "offline, use --data.root ../shared/data/mnist10k --data.download false"


@register_datamodule()
class MNISTDataModule(ImageDataModule):
    """MNIST, Fashion-MNIST or KMNIST from torchvision: 28x28 grey images, 10 classes, a seeded validation split.

    ``image_shape`` is always ``(1, 28, 28)``; ``input_shape`` is that, or ``(784,)`` with ``flatten``.
    The files live in torchvision's layout, ``<root>/<dataset>/raw/`` (uncompressed IDX files).

    Args:
        dataset: ``MNIST``, ``FashionMNIST`` or ``KMNIST``.
        root: folder holding ``<dataset>/raw/`` (offline: ``../shared/data/mnist10k``, MNIST only).
        download: download the files into ``root`` when they are missing.
        val_size: training images held out (seeded by ``seed``) as the validation split.
        normalize: ``(x - mean) / std`` with the dataset's pixel statistics; false keeps pixels/255 in [0, 1].
        flatten: give models flat ``(784,)`` vectors instead of ``(1, 28, 28)`` images.
        in_memory: hold every split as one tensor and index whole batches (fast); false uses torchvision's
            per-item PIL pipeline with ``num_workers`` worker processes.
        seed: seed of the train/validation split (independent of ``seed_everything``).
        batch_size: batch size of every dataloader.
        num_workers: worker processes, used only when ``in_memory`` is false.
    """

    image_shape = (1, 28, 28)
    num_classes = 10

    def __init__(
        self,
        dataset: Literal["MNIST", "FashionMNIST", "KMNIST"] = "MNIST",
        root: str = "data/",
        download: bool = True,
        val_size: int = 1000,
        normalize: bool = True,
        flatten: bool = False,
        in_memory: bool = True,
        seed: int = 0,
        batch_size: int = 128,
        num_workers: int = 0,
    ) -> None:
        super().__init__(normalize, flatten, seed, batch_size, num_workers)
        require_choice("dataset", dataset, TORCHVISION_DATASETS)
        check_range("val_size", val_size, minimum=1)
        self.save_hyperparameters()
        self.dataset_name, self.root, self.download = dataset, str(root), download
        self.val_size, self.in_memory = val_size, in_memory
        self.class_names = CLASS_NAMES[dataset]
        if not download and self.missing_files():
            raise self._not_found()  # now, before a trainer or a run folder exists

    @property
    def raw_folder(self) -> Path:
        """Where torchvision looks for the IDX files."""
        return Path(self.root) / self.dataset_name / "raw"

    def missing_files(self) -> list[str]:
        """The uncompressed IDX files torchvision needs that ``raw_folder`` lacks."""
        names = [Path(filename).stem for filename, _ in TORCHVISION_DATASETS[self.dataset_name].resources]
        return [name for name in names if not (self.raw_folder / name).is_file()]

    def _not_found(self) -> ConfigError:
        return ConfigError(
            f"{self.dataset_name} not found under root {self.root!r} (no IDX files in {str(self.raw_folder)!r}). "
            f"HINT: set --data.download true, or point --data.root at the data; {OFFLINE_HINT}"
        )

    def _torchvision(self, train: bool, download: bool = False, transform=None) -> datasets.MNIST:
        dataset_class = TORCHVISION_DATASETS[self.dataset_name]
        try:
            return dataset_class(self.root, train=train, download=download, transform=transform)
        except RuntimeError as error:
            if download:
                reason = str(error).strip().splitlines()[0]
                raise ConfigError(
                    f"could not download {self.dataset_name} into root {self.root!r} ({reason}). "
                    f"HINT: point --data.root at a folder holding {self.dataset_name}/raw/ "
                    f"and set --data.download false; {OFFLINE_HINT}"
                ) from None
            raise self._not_found() from None

    def prepare_data(self) -> None:
        """Download the files when ``download`` is on (Lightning calls this on one process only)."""
        if self.download:
            for train in (True, False):
                self._torchvision(train, download=True)

    def setup(self, stage: str | None = None) -> None:
        """Read the IDX files once and build the train/val/test splits."""
        if self.splits:
            return
        self.use_pixel_stats(*PIXEL_STATS[self.dataset_name])
        if self.in_memory:
            self._setup_in_memory()
        else:
            self._setup_per_item()

    def _setup_in_memory(self) -> None:
        train, test = self._torchvision(train=True), self._torchvision(train=False)
        val_index, train_index = self.split_off(len(train), {"val_size": self.val_size})
        # torchvision already holds the whole file as a uint8 tensor: one conversion for all images.
        pixels, test_pixels = train.data.float().div_(255), test.data.float().div_(255)
        self.splits = {
            "train": self.in_memory_split(pixels[train_index], train.targets[train_index]),
            "val": self.in_memory_split(pixels[val_index], train.targets[val_index]),
            "test": self.in_memory_split(test_pixels, test.targets),
        }

    def _setup_per_item(self) -> None:
        transform = transforms.Compose([transforms.ToTensor(), self.transform])
        train = self._torchvision(train=True, transform=transform)
        val_index, train_index = self.split_off(len(train), {"val_size": self.val_size})
        self.splits = {
            "train": Subset(train, train_index.tolist()),
            "val": Subset(train, val_index.tolist()),
            "test": self._torchvision(train=False, transform=transform),
        }
