"""The ``--llm`` and ``--model`` options' choices and help, shared by the ``blogtools llm`` commands
(click) and the essays' scripts (argparse, ``llm.add_llm_arguments``). Imports nothing, so the CLI's
start does not load the Messages API server to list its options."""

LLM_KINDS = ("scripted", "anthropic", "local")
LLM_HELP = "where model requests go: a scripted conversation, the live Anthropic API, or a local model"
MODEL_HELP = "directory of a local transformers model (with --llm local)"
