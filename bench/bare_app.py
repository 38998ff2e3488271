"""The framework's ceiling: a bare FastAPI app whose /predict returns a constant.

Same route and request body as the real service, no model, no middleware, no body parsing.
"""

from fastapi import FastAPI

app = FastAPI()


@app.post("/predict")
async def predict() -> dict[str, str]:
    return {"message": "FastAPI zegt Hallo Wereld"}
