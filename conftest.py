"""Settings for the whole test session (tests/ and the doctests)."""

import torch

# The suite trains many tiny networks: intra-op threads only add overhead, and
# when the cores are shared they slow training down by an order of magnitude.
torch.set_num_threads(1)
