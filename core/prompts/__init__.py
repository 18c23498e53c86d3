"""Prompts: the search space, the search, the prompt store, meta-prompt rewrites, the promoted-prompt approach."""
