"""GetJoinUrl's own helpers: one module per concern, no Azure Functions knowledge outside `http`."""
