"""Azure as code: the Pulumi app program (this package) and the bootstrap project (bootstrap/).

The app stack builds the service image, pushes it to a private registry and runs it on Azure
Container Instances; `python -m` is not how it runs: Pulumi runs `infra/__main__.py`.
"""
