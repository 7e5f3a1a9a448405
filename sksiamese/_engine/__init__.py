"""How one fit runs, private to the estimators: the skorch net, datasets and
batches, the criterion, callbacks and model selection, hold-out splits,
threads and the lazy Adam of sparse input layers."""
