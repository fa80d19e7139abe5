"""OpenAI-shaped response objects (pydantic v2, unknown fields kept, dict-style reads allowed)."""

from sluicegate.types.chat import ChatCompletion, Choices, Message, ModelResponse
from sluicegate.types.chunks import (
    ChatCompletionChunk,
    ChoiceDeltaToolCall,
    Delta,
    ModelResponseStream,
    StreamingChoices,
)
from sluicegate.types.completions import TextChoices, TextCompletionResponse
from sluicegate.types.embeddings import Embedding, EmbeddingResponse
from sluicegate.types.tools import ChatCompletionMessageToolCall, Function
from sluicegate.types.usage import CompletionTokensDetails, PromptTokensDetails, Usage

__all__ = [
    "ChatCompletion", "ChatCompletionChunk", "ChatCompletionMessageToolCall", "ChoiceDeltaToolCall", "Choices",
    "CompletionTokensDetails", "Delta", "Embedding", "EmbeddingResponse", "Function", "Message",
    "ModelResponse", "ModelResponseStream", "PromptTokensDetails", "StreamingChoices", "TextChoices",
    "TextCompletionResponse", "Usage",
]
