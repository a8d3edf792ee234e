"""The data's own collate through the real CLI: a small Hugging Face BERT on variable-length token ids padded by
``pad_sequences``; the stored token means leave the padding out (checked against the model run by hand), the manifest
says so, and variable-length items without a padding collate are one error line."""

from __future__ import annotations

import json

import numpy as np
import torch
import transformers
from contract_models import VariableTokens
from test_setup_checks import assert_one_line_before_training

BERT = {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "num_labels": 2}
BACKBONE = {"class_path": "latent_probe.models.backbones.hf_model",
            "init_args": {"model_class": "transformers.BertForSequenceClassification", "config_class": "transformers.BertConfig",
                          "config": BERT}}
LAYER = "backbone.bert.encoder"


def tokens(size: int, seed: int) -> dict:
    return {"class_path": "contract_models.VariableTokens", "init_args": {"size": size, "seed": seed}}


def bert_args(collate: str | None) -> list[str]:
    data = {"train": tokens(48, 0), "val": tokens(16, 1), "test": tokens(40, 2), "batch_size": 8,
            **({"collate_fn": collate} if collate else {})}
    probes = [{"class_path": "EmbeddingDumper", "init_args": {"layers": [LAYER], "strict": True, "batch_size": 8, "metrics": False}}]
    return ["--model", "Classifier", "--model.num_classes", "2", "--model.backbone", json.dumps(BACKBONE),
            "--data", json.dumps({"class_path": "DatasetDataModule", "init_args": data}),
            "--probes", json.dumps(probes), "--experiment", "contract"]


def test_token_means_leave_the_padding_out(run_cli, tmp_path):
    result = run_cli("fit", *bert_args("pad_sequences"))
    assert result.code == 0, result.err[-3000:]
    run = tmp_path / "runs" / "contract" / "version_0"
    folder = run / "probes" / "embedding_dumper" / "fit_end"
    record = json.loads((folder / "manifest.json").read_text())["layers"][0]
    assert record["part"] == "[last_hidden_state]"
    assert record["stored"].startswith("mean over the unpadded tokens (attention_mask"), record
    with np.load(folder / "embeddings.npz") as npz:
        index, stored = npz["index"], npz[LAYER]
    # The trained weights, run by hand on one item at a time: no padding at all.
    model = transformers.BertForSequenceClassification(transformers.BertConfig(**BERT)).eval()
    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    model.load_state_dict({key.removeprefix("backbone."): value for key, value in state.items()})
    data = VariableTokens(40, 2)
    assert len({len(data[int(i)]["input_ids"]) for i in index}) > 5, "the items must differ in length"
    with torch.no_grad():
        expected = torch.stack([model.bert(input_ids=data[int(i)]["input_ids"][None]).last_hidden_state[0].mean(0) for i in index])
    assert np.abs(stored - expected.numpy()).max() < 1e-5


def test_variable_length_items_without_a_padding_collate_are_one_line(run_cli, tmp_path):
    result = run_cli("fit", *bert_args(None))
    assert_one_line_before_training(result, tmp_path, "differ in shape", "HINT: give the data a padding collate_fn")
