"""Training (the ``prnet[train]`` extra): the 3DDFA_V2 teacher, pseudo-labels, the data pack,
ground-truth position maps, augmentation and the training loop — ``prnet train labels|labels-extra|
pack|fit``. Nothing outside this package imports it except the CLI (train → eval, never the
reverse)."""
