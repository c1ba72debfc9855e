import pytest
import torch

from frecore.config import ConfigError, NetConfig
from frecore.config.graph import Block, agt, chain, residual, with_skips


def test_layered_chain_blocks_and_adjacency():
    t = chain((4, 5, 6))
    assert t.blocks == (Block(0, 1), Block(1, 2))
    assert t.adjacency() == [[0, 2, 0], [1, 0, 2], [0, 1, 0]]




def _pairs(t):
    return {(b.src, b.dst) for b in t.blocks}


def test_residual_pattern_matches_the_paper():
    ten = residual((64,) * 10)
    assert _pairs(ten) - _pairs(chain((64,) * 10)) == {(0, 3), (3, 6), (6, 9)}  # 1<->4, 4<->7, 7<->10
    twenty = residual((64,) * 20)
    assert _pairs(twenty) - _pairs(chain((64,) * 20)) == {(i, i + 3) for i in range(0, 16, 3)}  # ..16<->19
    adj = ten.adjacency()
    assert adj[3][0] == 1 and adj[0][3] == 2  # forward 0 -> 3, feedback 3 -> 0


def test_agt_is_seeded_has_the_chain_and_no_self_loops():
    sizes = (64,) * 10
    a = agt(sizes, 0.2, torch.Generator().manual_seed(1))
    assert a == agt(sizes, 0.2, torch.Generator().manual_seed(1))  # reproducible from its seed
    graphs = {frozenset(_pairs(agt(sizes, 0.2, torch.Generator().manual_seed(s)))) for s in range(5)}
    assert len(graphs) > 1  # different across seeds
    for g in graphs:
        assert _pairs(chain(sizes)) <= g  # the chain is always there
        assert all(src < dst for src, dst in g)  # no self-loops, forward runs upward
    assert _pairs(agt(sizes, 0.0, torch.Generator())) == _pairs(chain(sizes))
    assert len(agt(sizes, 1.0, torch.Generator()).blocks) == 10 * 9 // 2  # every pair


def test_users_can_pass_their_own_graph():
    t = with_skips((8, 8, 8, 8), [(0, 2), (1, 3)])
    assert _pairs(t) == {(0, 1), (1, 2), (2, 3), (0, 2), (1, 3)}
    for bad, msg in (([(2, 2)], "self-loops"), ([(3, 1)], "lower"), ([(0, 1)], "twice"),
                     ([(0, 9)], "outside")):
        with pytest.raises(ValueError, match=msg):
            with_skips((8, 8, 8, 8), bad)
    cfg = NetConfig(hidden=(8, 8, 8, 8), topology="custom", skips=((0, 2), (1, 3)), beta=0.1)
    assert len(cfg.beta) == 5 and _pairs(cfg.graph()) == _pairs(t)
    with pytest.raises(ConfigError, match="skips"):
        NetConfig(hidden=(8, 8, 8), topology="custom", skips=((2, 0),))
    with pytest.raises(ConfigError, match="custom"):
        NetConfig(hidden=(8, 8, 8), skips=((0, 2),))


def test_ordered_agt_draws_each_direction_apart_and_needs_random_feedback():
    from frecore.model.build import build_fre_net

    sizes = (8,) * 10
    t = agt(sizes, 0.3, torch.Generator().manual_seed(3), ordered=True)
    assert t == agt(sizes, 0.3, torch.Generator().manual_seed(3), ordered=True)  # seeded
    assert t.one_way and not agt(sizes, 0.3, torch.Generator().manual_seed(3)).one_way
    a = t.adjacency()
    skips = [b for b in t.blocks if b.dst - b.src > 1]
    assert any(b.forward and not b.feedback
               for b in skips) and any(b.feedback and not b.forward for b in skips)
    for b in skips:
        assert (a[b.dst][b.src] == 1) == b.forward and (a[b.src][b.dst] == 2) == b.feedback
    cfg = NetConfig(hidden=sizes, topology="agt", agt_p=0.3, topology_seed=3, agt_draw="ordered",
                    feedback="random")
    net = build_fre_net(cfg, 5, 3, torch.Generator().manual_seed(0))
    w = net.recurrent_matrix()
    for k, b in enumerate(net.topology.blocks):  # a one-way block puts nothing in the missing direction
        fwd = w[8 * b.dst:8 * b.dst + 8, 8 * b.src:8 * b.src + 8]
        back = w[8 * b.src:8 * b.src + 8, 8 * b.dst:8 * b.dst + 8]
        assert bool(fwd.abs().sum() > 0) == b.forward and bool(back.abs().sum() > 0) == b.feedback
    with pytest.raises(ConfigError, match="feedback='random'"):
        build_fre_net(NetConfig(hidden=sizes, topology="agt", agt_p=0.3, topology_seed=3, agt_draw="ordered"),
                      5, 3,
                  torch.Generator())
