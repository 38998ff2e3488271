"""schemathesis against the service's own OpenAPI: no 5xx, every answer matches the schema."""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from schemathesis.config import SchemathesisConfig

from api.config import Settings
from api.main import create_app
from tests.session_model import trained_artifact

# The schema is the model's (its features, classes and examples), so it is built while pytest
# collects this module, from the session's model (trained now, once) with the same limits as
# the `settings` fixture; requests go to the fixture's app (model loaded).
# schemathesis.pytest.from_fixture would be the natural fit, but it reads a node attribute
# pytest 9 no longer has ("'Function' object has no attribute '_nodeid'", schemathesis 4.32).
SCHEMA_APP = create_app(
    Settings(model_dir=trained_artifact(), max_batch_rows=50, max_body_bytes=8192)
)
# A batch over maxItems is also over the body size limit, so 413 is a correct rejection too.
# The standard protocols' bodies have rules JSON Schema cannot state (a tensor's data must fill
# its shape; MLflow's columns must be equally long and name the model's inputs), so a body that
# fits their schema may still be refused with the protocol's 400 (or 404 for a model name that
# is not this one, 413 past the body limit); every other check (no 5xx, documented statuses,
# content types and shapes) holds for them as for every route.
PROTOCOL_PREDICTIONS = (
    r"^/v2/models/\{model_name\}(/versions/\{model_version\})?/infer$|^/invocations$"
)
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    *("400", "401", "403", "404", "405", "406", "409"),  # schemathesis' own
                    *("413", "415", "422", "428", "429"),
                ]
            }
        },
        "operations": [
            {
                "include-path-regex": PROTOCOL_PREDICTIONS,
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "413"]}
                },
            }
        ],
    }
)
schema = schemathesis.openapi.from_dict(SCHEMA_APP.openapi(), config=CONFIG)


def test_schema_is_the_served_one(app: FastAPI) -> None:
    assert app.openapi() == SCHEMA_APP.openapi()


@schema.parametrize()
def test_api_conforms_to_its_schema(case: schemathesis.Case, app: FastAPI, client: object) -> None:
    # `client` runs the app's lifespan (the model is loaded) for the whole session.
    case.call_and_validate(app=app)
