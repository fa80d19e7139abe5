"""The Azure adapter: deployment URLs, api-version, api-key or Entra ID bearer token."""

from sluicegate.params import ChatParams, EmbeddingParams, build_params
from sluicegate.providers import azure
from sluicegate.providers.base import Call, Credentials, SseEvent
from sluicegate.providers.registry import endpoint

MESSAGES = [{"role": "user", "content": "Hi"}]


def call(kind="chat", creds=None, stream=False, **params):
    params_type = ChatParams if kind == "chat" else EmbeddingParams
    return Call(kind=kind, provider="azure", model="my gpt4o", endpoint=endpoint("azure"),
                credentials=creds or Credentials(api_key="az-key", api_base="https://res.openai.azure.com/",
                                                 api_version="2024-10-21"),
                params=build_params(params_type, params), messages=MESSAGES if kind == "chat" else [],
                is_stream=stream)


def test_chat_goes_to_the_deployment_with_api_version_and_api_key():
    request = azure.build_request(call(temperature=0))
    assert request.url == ("https://res.openai.azure.com/openai/deployments/my%20gpt4o/chat/completions"
                           "?api-version=2024-10-21")
    assert request.headers == {"api-key": "az-key"}
    assert request.json == {"model": "my gpt4o", "messages": MESSAGES, "temperature": 0}


def test_entra_id_token_is_sent_as_bearer_instead_of_the_key():
    creds = Credentials(api_key="az-key", api_base="https://res.openai.azure.com", azure_ad_token="eyJ0")
    request = azure.build_request(call(creds=creds))
    assert request.headers == {"authorization": "Bearer eyJ0"}
    assert request.url.endswith(f"?api-version={azure.DEFAULT_API_VERSION}")


def test_v1_layout_when_the_base_ends_in_openai_v1():
    creds = Credentials(api_key="k", api_base="https://res.openai.azure.com/openai/v1")
    request = azure.build_request(call(kind="embedding", creds=creds, input="x"))
    assert request.url == "https://res.openai.azure.com/openai/v1/embeddings"


def test_prompt_filter_chunk_without_choices_is_dropped():
    parser = azure.AzureStream(call(stream=True))
    assert parser.feed(SseEvent(data='{"choices": [], "prompt_filter_results": [{"prompt_index": 0}]}')) == []
    usage = '{"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}'
    assert len(parser.feed(SseEvent(data=usage))) == 1
