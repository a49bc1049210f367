"""`dagc report`: a self-contained HTML view of a pipeline and its runs (model, renderer, adapters)."""
