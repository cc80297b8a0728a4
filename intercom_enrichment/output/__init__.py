"""Where and how output is written: the layout, storage, leases and the window writer."""
