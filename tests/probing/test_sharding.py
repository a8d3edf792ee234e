"""Sample selection, sharding and de-duplication by dataset index."""

import torch

from latent_probe.probing.sharding import gather_rows, order_by_index, select_indices, shard


def test_select_indices_is_seeded_sorted_and_bounded():
    a, b = select_indices(100, 10, seed=1), select_indices(100, 10, seed=1)
    assert torch.equal(a, b) and len(a) == 10 and torch.equal(a, a.sort().values)
    assert torch.equal(select_indices(5, 10), torch.arange(5))
    assert torch.equal(select_indices(5, None), torch.arange(5))


def test_shards_cover_every_index_once():
    chosen = select_indices(101, 37, seed=0)
    parts = [shard(chosen, r, 3) for r in range(3)]
    assert sorted(torch.cat(parts).tolist()) == chosen.tolist()
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_order_by_index_drops_padding_and_duplicates():
    # Two ranks' rows after an all-gather: rank 1 was padded (-1), and index 4 came twice
    # (what DistributedSampler's padding would do).
    gathered = torch.tensor([0, 2, 4, 1, 4, -1])
    keep = order_by_index(gathered)
    assert gathered[keep].tolist() == [0, 1, 2, 4]


def test_gather_rows_single_process_is_identity():
    rows = torch.randn(3, 2)
    assert gather_rows(None, rows, total=3, world_size=1) is rows
