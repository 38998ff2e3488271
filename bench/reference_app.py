"""The reference: the service written the way the original proof of concept was.

A plain `def` endpoint (so it runs in the thread pool), the joblib pickle of the sklearn pipeline
loaded at import, a pydantic model as the body, and `predict_proba` on every request. uvicorn's
default access log stays on, as it was. This is what the real service is measured against.

    MODEL_DIR=artifacts/model uvicorn bench.reference_app:app
"""

import os
from pathlib import Path

import joblib
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

MODEL = joblib.load(Path(os.environ.get("MODEL_DIR", "artifacts/model")) / "model.joblib")
LABELS = {0: "Goed bankbiljet", 1: "Vals bankbiljet"}

app = FastAPI()


class BankNote(BaseModel):
    variance: float
    skewness: float
    curtosis: float
    entropy: float


@app.get("/")
def index():
    return {"message": "FastAPI zegt Hallo Wereld"}


@app.post("/predict")
def predict_banknote(data: BankNote):
    features = np.array([[data.variance, data.skewness, data.curtosis, data.entropy]])
    probability = MODEL.predict_proba(features)[0]
    prediction = int(probability.argmax())
    return {"prediction": LABELS[prediction], "probability_forged": float(probability[1])}
