"""Collection: discovery of threads, expansion of their comment trees, and the run around them."""
