"""A tiny randomly initialised chat model, built locally in seconds, for tests and illustrations.

``make_tiny_model(directory)`` trains a byte-level BPE tokenizer on a few sentences, gives it a
ChatML chat template with tool support (tools listed in the system turn, calls written as
``<tool_call>{json}</tool_call>``), initialises a two-layer Llama with a fixed seed and saves both
where ``LocalBackend`` (``--llm local --model DIRECTORY``) loads them. Its replies are noise; its
token counts, caches and logits are real.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = """\
{%- if tools or messages[0].role == 'system' -%}
<|im_start|>system
{% if messages[0].role == 'system' %}{{ messages[0].content }}
{% endif %}{% if tools %}# Tools
{% for tool in tools %}{{ tool | tojson }}
{% endfor %}Call a tool with <tool_call>{"name": NAME, "arguments": {...}}</tool_call>
{% endif %}<|im_end|>
{% endif -%}
{%- for message in messages if message.role != 'system' -%}
<|im_start|>{{ message.role }}
{{ message.content }}{% for call in message.tool_calls or [] %}<tool_call>{{ {"name": call.function.name, "arguments": call.function.arguments} | tojson }}</tool_call>{% endfor %}<|im_end|>
{% endfor -%}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif -%}
"""

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"]

CORPUS = [
    "What is the weather in Paris today? It is sunny and 21 degrees.",
    "The prompt history is an append-only log; sync it incrementally instead of resending it.",
    "With your own model you drive it with token sequences and keep the KV cache as derived state.",
    "Call the get_weather tool with the city name and report the temperature in Celsius.",
    '{"name": "get_weather", "arguments": {"city": "Paris"}} user assistant system tool',
    "Checkpoint the cache, resume it later, and compute only the tokens you have not seen.",
]


def make_tiny_model(directory: str | Path, *, seed: int = 0, vocab_size: int = 400) -> Path:
    """Build and save the tiny tokenizer and model in ``directory`` (created); return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(directory)

    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16384,
                         bos_token_id=None, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(directory)
    return directory
