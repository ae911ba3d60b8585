"""Pipeline: wires decode → detect → track → render → encode → audit for one file, and batches."""
