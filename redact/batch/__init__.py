"""Batches: collect inputs, run each file (run, plan or render) through one runner, job state,
lock and journal, and the engines that execute files (local loop, process pool, Ray)."""
