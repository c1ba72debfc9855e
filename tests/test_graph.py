from frecore.graph import Block, layered


def test_layered_chain_blocks_and_adjacency():
    t = layered((4, 5, 6))
    assert t.blocks == (Block(0, 1), Block(1, 2))
    assert t.adjacency() == [[0, 2, 0], [1, 0, 2], [0, 1, 0]]
