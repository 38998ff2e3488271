"""schemathesis against the service's own OpenAPI: no 5xx, every answer matches the schema."""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from schemathesis.config import SchemathesisConfig

from api.config import Settings
from api.main import create_app

# The schema does not depend on the model, so it is built at collection time from an app
# with the same limits as the `settings` fixture; requests go to the fixture's app (model
# loaded). schemathesis.pytest.from_fixture would be the natural fit, but it reads a node
# attribute pytest 9 no longer has.
SCHEMA_APP = create_app(Settings(max_batch_rows=50, max_body_bytes=8192))
# A batch over maxItems is also over the body size limit, so 413 is a correct rejection too.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [
                    *("400", "401", "403", "404", "405", "406", "409"),  # schemathesis' own
                    *("413", "415", "422", "428", "429"),
                ]
            }
        }
    }
)
schema = schemathesis.openapi.from_dict(SCHEMA_APP.openapi(), config=CONFIG)


def test_schema_is_the_served_one(app: FastAPI) -> None:
    assert app.openapi() == SCHEMA_APP.openapi()


@schema.parametrize()
def test_api_conforms_to_its_schema(case: schemathesis.Case, app: FastAPI, client: object) -> None:
    # `client` runs the app's lifespan (the model is loaded) for the whole session.
    case.call_and_validate(app=app)
