"""HTTP service that answers with the ONNX export of the trained model.

`python -m api` starts it; `api.main.create_app` builds the ASGI app.
"""

__version__ = "1.0.0"
